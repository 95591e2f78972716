#include "server/app/privilege.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace app {
namespace {

std::string failed(const std::string& what) { return what + ": " + std::strerror(errno); }

// A name that is all digits names an id with no passwd or group entry.
std::optional<unsigned long> numeric_id(const std::string& name) {
  char* end = nullptr;
  const unsigned long id = std::strtoul(name.c_str(), &end, 10);
  if (name.empty() || *end != '\0') return std::nullopt;
  return id;
}

// Looked up by name, or taken as a number.
std::optional<passwd> find_user(const std::string& name, std::vector<char>& buffer) {
  passwd entry{};
  passwd* found = nullptr;
  buffer.resize(16384);
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) return entry;
  const auto id = numeric_id(name);
  if (!id) return std::nullopt;
  entry = passwd{};
  entry.pw_uid = static_cast<uid_t>(*id);
  entry.pw_gid = static_cast<gid_t>(*id);
  entry.pw_name = const_cast<char*>("");
  return entry;
}

std::optional<gid_t> find_group(const std::string& name) {
  group entry{};
  group* found = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->gr_gid;
  }
  const auto id = numeric_id(name);
  if (!id) return std::nullopt;
  return static_cast<gid_t>(*id);
}

// Empties the permitted, effective and inheritable sets, and the ambient one.
std::string clear_capabilities() {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return failed("clearing ambient capabilities");
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capset, &header, data) != 0) return failed("clearing capabilities");
  return {};
}

}  // namespace

Privileges plan_privileges(const config::Config& config) {
  const std::optional<std::string>& user = config.user;
  const std::optional<std::string>& group = config.group;
  auto problem = [](const config::SourceLocation& where, const char* key, const std::string& message) {
    return config::Problem{where, key, message}.to_string();
  };
  Privileges result;
  std::vector<char> buffer;
  if (geteuid() != 0) {
    // Already someone else (systemd's User=, a container's USER): only capabilities to shed.
    result.uid = geteuid();
    result.gid = getegid();
    if (user) {
      const auto wanted = find_user(*user, buffer);
      if (!wanted || wanted->pw_uid != result.uid) {
        result.error = problem(config.user_location, "user",
                               "'" + *user + "' was configured, but smeard was started as uid " +
                                   std::to_string(result.uid) + " and cannot change user without root");
        return result;
      }
    }
    if (group) {
      const auto wanted = find_group(*group);
      if (!wanted || *wanted != result.gid) {
        result.error = problem(config.group_location, "group",
                               "'" + *group + "' was configured, but smeard was started as gid " +
                                   std::to_string(result.gid) + " and cannot change group without root");
        return result;
      }
    }
    const passwd* self = getpwuid(result.uid);
    result.user = self != nullptr ? self->pw_name : std::to_string(result.uid);
    return result;
  }

  const std::string name = user.value_or("smeard");
  const std::optional<passwd> account = find_user(name, buffer);
  if (!account) {
    if (user) {
      result.error = problem(config.user_location, "user", "no user '" + *user + "'");
      return result;
    }
    result.user = "root";
    result.warning = "no user 'smeard' and none configured: running as root; set user: (and group:) to drop root";
    return result;
  }
  gid_t gid = account->pw_gid;
  if (group) {
    const auto found = find_group(*group);
    if (!found) {
      result.error = problem(config.group_location, "group", "no group '" + *group + "'");
      return result;
    }
    gid = *found;
  }
  if (account->pw_uid == 0) {
    result.user = "root";
    result.warning = "user '" + name + "' is root: running as root";
    return result;
  }
  result.user = name;
  result.uid = account->pw_uid;
  result.gid = gid;
  result.change_user = true;
  return result;
}

Privileges drop_privileges(const config::Config& config) {
  Privileges result = plan_privileges(config);
  if (!result.error.empty()) return result;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    result.error = failed("PR_SET_NO_NEW_PRIVS");
    return result;
  }
  if (!result.change_user) {
    // Not root, or staying root: either way no capability is kept.
    if (geteuid() != 0) result.error = clear_capabilities();
    return result;
  }
  // The bounding set too, so nothing could ever be regained (this needs CAP_SETPCAP: root's).
  for (int capability = 0; capability < 64; ++capability) {
    if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) {
      result.error = failed("dropping capability " + std::to_string(capability) + " from the bounding set");
      return result;
    }
  }
  // Supplementary groups first (they need root), then the group, then the user.
  const gid_t gid = result.gid;
  if (setgroups(1, &gid) != 0) {
    result.error = failed("setgroups");
    return result;
  }
  if (setresgid(gid, gid, gid) != 0) {
    result.error = failed("setresgid");
    return result;
  }
  if (setresuid(result.uid, result.uid, result.uid) != 0) {
    result.error = failed("setresuid");
    return result;
  }
  // Leaving uid 0 already emptied the capability sets; this also clears the ambient set
  // and makes sure of it.
  if (const std::string error = clear_capabilities(); !error.empty()) {
    result.error = error;
    return result;
  }
  if (setuid(0) == 0) {
    result.error = "setuid(0) succeeded after dropping root";
    return result;
  }
  return result;
}

}  // namespace app
