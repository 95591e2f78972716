#include "server/io/sandbox.hpp"

#include <seccomp.h>

#include <cstring>
#include <memory>

namespace io {
namespace {

struct ContextFree {
  void operator()(scmp_filter_ctx context) const { seccomp_release(context); }
};

// By name, so libseccomp maps each to this architecture's number (or skips one it lacks).
constexpr const char* kWorkerSyscalls[] = {
    // The packet path.
    "recvmmsg", "sendmmsg", "recvmsg", "sendmsg", "clock_gettime", "gettimeofday", "adjtimex", "clock_adjtime",
    // AF_XDP: waiting for frames, kicking the kernel to send, busy polling.
    "poll", "ppoll", "sendto", "recvfrom",
    // NTS reply nonces.
    "getrandom",
    // Memory (a new key ring's contexts), locks inside the allocator, being woken and stopped.
    "mmap", "munmap", "mremap", "madvise", "mprotect", "brk", "futex", "sched_yield", "restart_syscall",
    "rt_sigreturn", "rt_sigprocmask", "exit", "exit_group",
    // abort() and what it writes on the way out, so a failed assertion still says why; the
    // sanitizers' signal stacks.
    "write", "writev", "getpid", "gettid", "tgkill", "rt_sigaction", "sigaltstack"};

}  // namespace

std::string confine_worker_thread() {
  const std::unique_ptr<void, ContextFree> context{seccomp_init(SCMP_ACT_KILL_PROCESS)};
  if (!context) return "seccomp_init failed";
  for (const char* name : kWorkerSyscalls) {
    const int number = seccomp_syscall_resolve_name(name);
    if (number == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (const int error = seccomp_rule_add(context.get(), SCMP_ACT_ALLOW, number, 0); error != 0) {
      return std::string{"seccomp_rule_add("} + name + "): " + std::strerror(-error);
    }
  }
  if (const int error = seccomp_load(context.get()); error != 0) {
    return std::string{"seccomp_load: "} + std::strerror(-error);
  }
  return {};
}

}  // namespace io
