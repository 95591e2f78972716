// The worker seccomp filter, in a child process: what a worker does is allowed, anything else
// (opening a file, making a socket) kills the process with SIGSYS.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <functional>

#include "server/io/sandbox.hpp"

namespace {

// The child's wait status after it confines itself and runs `act`, then exits 0.
int confined_child(const std::function<void()>& act) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (!io::confine_worker_thread().empty()) ::_exit(3);
    act();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("sandbox: a confined worker can read clocks and allocate, and dies opening a file or a socket") {
  const int allowed = confined_child([] {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &now);
    void* big = ::operator new(64 << 20);  // mmap
    ::operator delete(big);
  });
  CHECK(WIFEXITED(allowed));
  CHECK(WEXITSTATUS(allowed) == 0);

  const int opened = confined_child([] { ::open("/etc/hostname", O_RDONLY); });
  REQUIRE(WIFSIGNALED(opened));
  CHECK(WTERMSIG(opened) == SIGSYS);

  const int socketed = confined_child([] { ::socket(AF_INET, SOCK_DGRAM, 0); });
  REQUIRE(WIFSIGNALED(socketed));
  CHECK(WTERMSIG(socketed) == SIGSYS);
}
