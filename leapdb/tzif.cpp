// TZif (RFC 8536), versions 1 to 4: only the leap-second records matter here. Each record is
// (occurrence on the leap-counting clock, total correction). Version 4 marks the table's
// expiry with a final record that repeats the previous correction. TAI-UTC = 10 + correction.

#include <string>

#include "leapdb/lines.hpp"
#include "leapdb/parse.hpp"

namespace leapdb {
namespace {

constexpr std::size_t kHeaderLength = 44;

class Bytes {
 public:
  explicit Bytes(std::string_view bytes) : bytes_(bytes) {}
  bool has(std::size_t offset, std::size_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  std::uint64_t big_endian(std::size_t offset, std::size_t length) const {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < length; ++i) value = (value << 8) | static_cast<unsigned char>(bytes_[offset + i]);
    return value;
  }
  std::int64_t signed_big_endian(std::size_t offset, std::size_t length) const {
    const std::uint64_t raw = big_endian(offset, length);
    const unsigned shift = static_cast<unsigned>(64 - 8 * length);
    return static_cast<std::int64_t>(raw << shift) >> shift;
  }
  char at(std::size_t offset) const { return bytes_[offset]; }
  std::size_t size() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
};

struct Counts {
  std::uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;
  std::uint64_t data_length(std::uint64_t time_size) const {
    return time * time_size + time + type * 6 + chars + leap * (time_size + 4) + isstd + isut;
  }
};

Counts read_counts(const Bytes& in, std::size_t header) {
  return Counts{in.big_endian(header + 20, 4), in.big_endian(header + 24, 4), in.big_endian(header + 28, 4),
                in.big_endian(header + 32, 4), in.big_endian(header + 36, 4), in.big_endian(header + 40, 4)};
}

std::string byte_field(std::size_t offset, std::string_view what) {
  return "byte " + std::to_string(offset) + " (" + std::string{what} + ")";
}

}  // namespace

ParseResult parse_tzif(std::string_view bytes, std::string_view source) {
  ParseResult result;
  LeapTable& table = result.table;
  table.source = std::string{source};
  table.format = Format::tzif;
  table.hash = HashStatus::not_applicable;
  auto fail = [&](std::string field, std::string message) {
    result.problems.push_back(Problem{table.source, 0, std::move(field), std::move(message)});
  };

  const Bytes in{bytes};
  if (!in.has(0, kHeaderLength) || bytes.substr(0, 4) != "TZif") {
    fail(byte_field(0, "header"), "not a TZif file, or shorter than its 44-byte header");
    return result;
  }
  const char version = in.at(4);
  if (version != '\0' && version != '2' && version != '3' && version != '4') {
    fail(byte_field(4, "version"), "unknown TZif version");
    return result;
  }
  std::size_t header = 0;
  Counts counts = read_counts(in, header);
  std::uint64_t time_size = 4;
  if (version != '\0') {
    // Version 2 and later repeat the data with 64-bit times after the version 1 block.
    header = kHeaderLength + counts.data_length(4);
    if (!in.has(header, kHeaderLength) || bytes.substr(header, 4) != "TZif") {
      fail(byte_field(header, "second header"), "truncated: the version 2+ header is missing");
      return result;
    }
    counts = read_counts(in, header);
    time_size = 8;
  }
  if (counts.type == 0 || counts.chars == 0 || (counts.isut != 0 && counts.isut != counts.type) ||
      (counts.isstd != 0 && counts.isstd != counts.type)) {
    fail(byte_field(header + 20, "counts"), "inconsistent counts in the header");
    return result;
  }
  const std::uint64_t data = header + kHeaderLength;
  if (!in.has(data, counts.data_length(time_size))) {
    fail(byte_field(data, "data"), "truncated: the header announces " + std::to_string(counts.data_length(time_size)) +
                                       " bytes of data but the file has " + std::to_string(in.size() - data));
    return result;
  }

  const std::uint64_t leaps_at = data + counts.time * time_size + counts.time + counts.type * 6 + counts.chars;
  const std::uint64_t record_size = time_size + 4;
  std::int64_t previous_correction = 0;
  std::int64_t previous_occurrence = 0;
  for (std::uint64_t i = 0; i < counts.leap; ++i) {
    const std::size_t at = leaps_at + i * record_size;
    const std::int64_t occurrence = in.signed_big_endian(at, time_size);
    const std::int64_t correction = in.signed_big_endian(at + time_size, 4);
    const std::string field = byte_field(at, "leap record " + std::to_string(i + 1));
    if (i > 0 && occurrence <= previous_occurrence) {
      fail(field, "occurrence times must strictly increase");
      return result;
    }
    if (occurrence < lines::kEarliestUnixSeconds || occurrence > lines::kLatestUnixSeconds) {
      fail(field, "occurrence " + std::to_string(occurrence) + " is outside 1900 to 2200");
      return result;
    }
    const std::int64_t step = correction - previous_correction;
    if (step == 0 && i + 1 == counts.leap && version >= '4') {
      // The expiry marker: the table is valid up to this instant.
      table.expires = lines::from_unix_seconds(occurrence - correction);
      break;
    }
    if (step != 1 && step != -1) {
      fail(field, "correction moves from " + std::to_string(previous_correction) + " to " + std::to_string(correction) +
                      "; it must move by exactly one");
      return result;
    }
    // As zic writes them: an inserted second's record sits at effective + old correction, a
    // deleted second's at effective + new correction.
    const std::int64_t effective = step > 0 ? occurrence - previous_correction : occurrence - correction;
    table.leaps.push_back(Leap{UtcTime{std::chrono::seconds{effective}}, static_cast<int>(step),
                               table.initial_tai_utc + static_cast<int>(correction), 0});
    previous_correction = correction;
    previous_occurrence = occurrence;
  }
  if (counts.leap == 0) fail("leap records", "the file has no leap-second records (use a right/ zone)");
  if (!table.expires) {
    result.warnings.push_back(Problem{table.source, 0, "expiry",
                                      "none recorded (TZif version 4 records one): the table cannot tell when it "
                                      "becomes stale"});
  }
  validate(table, result.problems);
  return result;
}

}  // namespace leapdb
