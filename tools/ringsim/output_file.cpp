// Output files; see output_file.hpp.
#include "tools/ringsim/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <stdexcept>
#include <streambuf>

#include "models/input_error.hpp"
#include "models/input_file.hpp"
#include "tools/ringsim/interrupt.hpp"

namespace ringsim::cli {

namespace {

namespace fs = std::filesystem;

constexpr int kMaxPartialNames = 100;  // FILE.partial, FILE.partial.1 .. .99

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  std::error_code ea, eb;
  const fs::path ca = fs::weakly_canonical(fs::absolute(a, ea), ea), cb = fs::weakly_canonical(fs::absolute(b, eb), eb);
  return !ea && !eb && ca == cb;
}

void check_one(const OutputSpec& o, const std::vector<InputSpec>& inputs) {
  if (o.path.empty()) throw InputError(o.flag, 0, "", "needs a file name, not an empty string");
  struct stat st {};
  if (::stat(o.path.c_str(), &st) != 0) return;  // a new file (its folder is checked when it is created)
  if (S_ISDIR(st.st_mode)) throw InputError(o.flag, 0, "", fmt::format("{} is a directory, not a file", o.path));
  if (!S_ISREG(st.st_mode))
    throw InputError(o.flag, 0, "", fmt::format("{} is {}; ringsim writes only regular files (leave out {} to "
                                                "print to standard output)", o.path, file_kind(st.st_mode), o.flag));
  for (const InputSpec& in : inputs)
    if (!in.path.empty() && same_file(o.path, in.path))
      throw InputError(o.flag, 0, "", fmt::format("{} is {} of this run ({}); ringsim never writes over its inputs",
                                                  o.path, in.what, in.path));
}

}  // namespace

void check_outputs(const std::vector<OutputSpec>& outputs, const std::vector<InputSpec>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    check_one(outputs[i], inputs);
    for (std::size_t j = 0; j < i; ++j)
      if (same_file(outputs[i].path, outputs[j].path))
        throw InputError(outputs[i].flag, 0, "", fmt::format("{} is also the file of {}: give each output its own file",
                                                             outputs[i].path, outputs[j].flag));
  }
}

// A growing in-memory buffer written to the descriptor only on sync(), in
// full, so the file only ever holds whole flushes (whole points).
class OutputFile::Buffer : public std::streambuf {
 public:
  Buffer(int fd, std::size_t write_above_bytes) : fd_(fd), write_above_(write_above_bytes) {}
  ~Buffer() override {
    if (fd_ >= 0) ::close(fd_);
  }
  int error() const { return error_; }
  bool close() {
    if (sync() != 0) return false;
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0 && error_ == 0) error_ = errno;
    return error_ == 0;
  }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) data_ += traits_type::to_char_type(c);
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    data_.append(s, static_cast<std::size_t>(n));
    if (data_.size() > write_above_ && sync() != 0) return 0;
    return n;
  }
  int sync() override {
    if (error_ != 0 || fd_ < 0) return error_ != 0 ? -1 : 0;
    const WriteSection section;
    std::size_t done = 0;
    while (done < data_.size()) {
      const ssize_t n = ::write(fd_, data_.data() + done, data_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = n < 0 ? errno : EIO;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    data_.clear();
    return error_ == 0 ? 0 : -1;
  }

 private:
  int fd_;
  std::size_t write_above_;
  int error_ = 0;
  std::string data_;
};

OutputFile::OutputFile(const std::string& path, std::size_t write_above_bytes) : path_(path) {
  for (int i = 0; i < kMaxPartialNames; ++i) {
    std::string name = i == 0 ? path + ".partial" : fmt::format("{}.partial.{}", path, i);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      partial_ = std::move(name);
      buffer_ = std::make_unique<Buffer>(fd, write_above_bytes);
      stream_ = std::make_unique<std::ostream>(buffer_.get());
      return;
    }
    if (errno != EEXIST)
      throw InputError(path, 0, "", fmt::format("cannot create {}: {}", name, std::strerror(errno)));
  }
  throw InputError(path, 0, "", fmt::format("cannot create a partial file: {}.partial to .partial.{} all exist "
                                            "(leftovers of stopped runs? remove them)", path, kMaxPartialNames - 1));
}

OutputFile::~OutputFile() {
  if (committed_ || keep_) return;
  stream_.reset();
  buffer_.reset();
  ::unlink(partial_.c_str());
}

std::ostream& OutputFile::stream() { return *stream_; }

void OutputFile::flush() {
  stream_->flush();
  if (buffer_->error() != 0 || !*stream_)
    throw std::runtime_error(fmt::format("cannot write {}: {}", partial_, std::strerror(buffer_->error())));
}

void OutputFile::commit() {
  flush();
  if (!buffer_->close())
    throw std::runtime_error(fmt::format("cannot write {}: {}", partial_, std::strerror(buffer_->error())));
  if (std::rename(partial_.c_str(), path_.c_str()) != 0)
    throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", partial_, path_, std::strerror(errno)));
  committed_ = true;
}

void flush_checked(std::ostream& out, const char* what) {
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("cannot write to {}", what));
}

}  // namespace ringsim::cli
