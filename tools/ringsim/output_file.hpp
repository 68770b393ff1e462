// Output files that never destroy an input and appear only when complete.
//
// check_outputs() runs before anything is simulated: it refuses an empty
// path, a directory, an existing file that is not a regular file (a device
// such as /dev/null, a FIFO, a socket), a path that is one of the run's
// inputs (the scenario, its profile, a claims CSV: same file after symlinks
// and hard links), and two outputs that are the same file.
//
// OutputFile streams into FILE.partial, created exclusively
// (O_CREAT | O_EXCL | O_NOFOLLOW: never an existing file, never through a
// planted symlink; if the name is taken, by another run or a leftover, the
// next free FILE.partial.1, .2, ... is used). Every write is checked.
// commit() renames it to FILE (rename replaces a symlink at FILE, never its
// target). Data reaches the file only at flush(), whole: a run stopped by a
// signal leaves the points flushed so far and nothing half-written (see
// interrupt.hpp).
#pragma once
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace ringsim::cli {

struct OutputSpec {
  std::string flag;  // "--out", "--trace"
  std::string path;
};
struct InputSpec {
  std::string what;  // "the scenario", "its profile", "the claims file"
  std::string path;
};

// Throws InputError("--out", ...) (exit 2) naming the flag and the reason.
void check_outputs(const std::vector<OutputSpec>& outputs, const std::vector<InputSpec>& inputs);

class OutputFile {
 public:
  // Creates the partial file; throws InputError. Data is held until flush()
  // unless more than `write_above_bytes` piles up (a trace's point can be
  // hundreds of MB; results are written only at flushes, whole).
  explicit OutputFile(const std::string& path, std::size_t write_above_bytes = SIZE_MAX);
  ~OutputFile();  // removes the partial file unless committed or keep_partial()
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::ostream& stream();
  // Writes what the stream holds to the file; throws std::runtime_error
  // (errno's text) if any write failed, now or before.
  void flush();
  void keep_partial() { keep_ = true; }  // it holds finished results worth keeping
  void commit();                          // flush, close, rename to FILE
  const std::string& path() const { return path_; }
  const std::string& partial_path() const { return partial_; }

 private:
  class Buffer;
  std::string path_, partial_;
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<std::ostream> stream_;
  bool keep_ = false, committed_ = false;
};

// Flushes a stream the caller does not own (stdout) and throws
// std::runtime_error naming `what` if it failed (a full disk, /dev/full).
void flush_checked(std::ostream& out, const char* what);

}  // namespace ringsim::cli
