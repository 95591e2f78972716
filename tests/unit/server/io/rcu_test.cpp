#include "server/io/rcu.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

// A value that can tell when it is read after being freed: the destructor scribbles on it
// (and AddressSanitizer reports the access outright).
struct Checked {
  explicit Checked(std::uint64_t v) : value(v), twin(~v) {}
  ~Checked() { value = twin = 0xDEAD; }
  bool intact() const { return value == ~twin; }
  std::uint64_t value;
  std::uint64_t twin;
};

}  // namespace

TEST_CASE("readers see the newest value and old values wait for readers") {
  io::RcuCell<Checked> cell{2, std::make_unique<const Checked>(1)};
  CHECK(cell.read(0)->value == 1);
  {
    const auto held = cell.read(1);  // reader 1 keeps the first value
    cell.publish(std::make_unique<const Checked>(2));
    CHECK(cell.read(0)->value == 2);
    CHECK(cell.reclaim() == 1);  // value 1 is still held by reader 1
    CHECK(held->value == 1);
    CHECK(held->intact());
  }
  CHECK(cell.reclaim() == 0);
  CHECK(cell.current().value == 2);
}

TEST_CASE("a reader that started after the swap does not hold back reclamation") {
  io::RcuCell<Checked> cell{1, std::make_unique<const Checked>(1)};
  cell.publish(std::make_unique<const Checked>(2));
  const auto guard = cell.read(0);
  CHECK(guard->value == 2);
  CHECK(cell.reclaim() == 0);
}

TEST_CASE("stress: concurrent readers never see a freed or torn value") {
  constexpr std::size_t kReaders = 3;
  io::RcuCell<Checked> cell{kReaders, std::make_unique<const Checked>(0)};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bad{0};
  std::vector<std::thread> readers;
  for (std::size_t r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::uint64_t last = 0;
      while (!done.load(std::memory_order_relaxed)) {
        const auto guard = cell.read(r);
        // Values only grow: a reader never goes back to an older snapshot.
        if (!guard->intact() || guard->value < last) bad.fetch_add(1);
        last = guard->value;
      }
    });
  }
  for (std::uint64_t v = 1; v <= 20000; ++v) cell.publish(std::make_unique<const Checked>(v));
  done.store(true);
  for (auto& t : readers) t.join();
  CHECK(bad.load() == 0);
  CHECK(cell.reclaim() == 0);
}
