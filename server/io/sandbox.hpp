#pragma once
// A seccomp allow-list for worker threads: what answering takes (receiving and sending in
// batches, reading clocks and the kernel's leap state, memory for a new key ring, futexes,
// exiting) and nothing else; any other system call kills the process, loudly, rather than
// letting a compromised worker open a file or a socket. The calling thread alone is confined.

#include <string>

namespace io {

// Empty on success, else why not. Needs no_new_privs (or CAP_SYS_ADMIN) already set.
std::string confine_worker_thread();

}  // namespace io
