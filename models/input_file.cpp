// read_input_file: see input_file.hpp.
#include "models/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "models/input_error.hpp"

namespace ringsim {

namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

const char* file_kind(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::size_t invalid_utf8_at(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Lead byte: sequence length and the allowed range of the second byte
    // (which excludes overlong forms, surrogates and > U+10FFFF).
    int len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return i;
    if (i + static_cast<std::size_t>(len) > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (int k = 2; k < len; ++k)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    i += static_cast<std::size_t>(len);
  }
  return std::string_view::npos;
}

int line_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::string read_input_file(const std::string& path, std::string_view what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) {
    const int err = errno;
    throw InputError(path, 0, "", err == ENOENT ? std::string("no such file")
                                                : fmt::format("cannot be read: {}", std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw InputError(path, 0, "", fmt::format("cannot be read: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw InputError(path, 0, "", fmt::format("is {}, not a {}", file_kind(st.st_mode), what));
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxInputBytes)
    throw InputError(path, 0, "", fmt::format("is {} bytes, more than the {} bytes (1 MiB) a {} may hold",
                                              st.st_size, kMaxInputBytes, what));
  // Read at most one byte past the cap: the file may grow after fstat.
  std::string text(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) {
      if (text.size() > kMaxInputBytes) break;
      text.resize(std::min(2 * text.size(), kMaxInputBytes + 1));
    }
    const ssize_t r = ::read(f.fd, text.data() + got, text.size() - got);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      throw InputError(path, 0, "", fmt::format("cannot be read: {}", std::strerror(errno)));
    }
    got += static_cast<std::size_t>(r);
  }
  if (got > kMaxInputBytes)
    throw InputError(path, 0, "", fmt::format("grew past the {} bytes (1 MiB) a {} may hold while being read",
                                              kMaxInputBytes, what));
  text.resize(got);
  if (const std::size_t bad = invalid_utf8_at(text); bad != std::string::npos)
    throw InputError(path, line_at(text, bad), "",
                     fmt::format("byte {} (0x{:02x}) is not valid UTF-8 (inputs are UTF-8 text)", bad,
                                 static_cast<unsigned char>(text[bad])));
  return text;
}

}  // namespace ringsim
