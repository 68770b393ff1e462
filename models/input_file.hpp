// Reading a user's input file whole (scenario and profile YAML, claims CSV),
// safely: only a regular file (never a directory, /dev/zero, a FIFO or a
// socket: those would block or never end), at most kMaxInputBytes (yaml-cpp
// holds about 250 bytes per input byte: a 20 MB scenario took 4.9 GiB), and
// valid UTF-8 (so names copied into JSON and CSV outputs stay valid).
// Every error is an InputError naming the file (and the line of a bad byte).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace ringsim {

// 1 MiB: a scenario of 25,000 sweep points, or a profile of 8,000 samples;
// the shipped ones are under 50 KiB.
inline constexpr std::size_t kMaxInputBytes = std::size_t{1} << 20;

// `what` says what the file should be ("scenario file", "profile").
std::string read_input_file(const std::string& path, std::string_view what);

// Byte offset of the first invalid UTF-8 sequence (overlong forms,
// surrogates and code points past U+10FFFF included), or npos.
std::size_t invalid_utf8_at(std::string_view text);

// 1-based line of byte `offset` in `text`.
int line_at(std::string_view text, std::size_t offset);

// "a directory", "a device", "a pipe", "a socket": what a stat mode is
// when it is not a regular file (for input and output refusals).
const char* file_kind(unsigned mode);

}  // namespace ringsim
