// The system's flag and advice values by name, on every POSIX system: the
// advice the safe API takes (and whether it splits a mapping), the raw
// layer's allowlists of flags, protections and advice, and the constants
// lib/raw.ts exports.
#include "glibc_compat.h"  // first: pins the glibc versions of what follows
#include "posix.h"

#include <sys/mman.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

namespace memmap {
namespace os {

static const NamedValue kAdvice[] = {
    {"normal", MADV_NORMAL},
    {"random", MADV_RANDOM},
    {"sequential", MADV_SEQUENTIAL},
    {"willneed", MADV_WILLNEED},
    {"dontneed", MADV_DONTNEED},
#ifdef MADV_FREE
    {"free", MADV_FREE},
#endif
#ifdef MADV_HUGEPAGE
    {"hugepage", MADV_HUGEPAGE},
    {"nohugepage", MADV_NOHUGEPAGE},
#endif
#ifdef MADV_MERGEABLE
    {"mergeable", MADV_MERGEABLE},
    {"unmergeable", MADV_UNMERGEABLE},
#endif
#ifdef MADV_DONTDUMP
    {"dontdump", MADV_DONTDUMP},
    {"dodump", MADV_DODUMP},
#endif
#ifdef MADV_DONTFORK
    {"dontfork", MADV_DONTFORK},
    {"dofork", MADV_DOFORK},
#endif
#ifdef MADV_COLD
    {"cold", MADV_COLD},
    {"pageout", MADV_PAGEOUT},
#endif
#ifdef MADV_POPULATE_READ
    {"populate_read", MADV_POPULATE_READ},
    {"populate_write", MADV_POPULATE_WRITE},
#endif
};

bool AdviceByName(const std::string& name, int* advice) { return LookupName(kAdvice, name, advice); }

std::vector<std::string> AdviceNames() { return NamesOf(kAdvice); }

bool AdviceSplits(int advice) {
  switch (advice) {
    case MADV_WILLNEED:
    case MADV_DONTNEED:
#ifdef MADV_FREE
    case MADV_FREE:
#endif
#ifdef MADV_COLD
    case MADV_COLD:
    case MADV_PAGEOUT:
#endif
#ifdef MADV_POPULATE_READ
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
#endif
      return false;
    default:
      return true;  // a flag of the mapping, or unknown: counted
  }
}

bool RawFlagsAllowed(int flags, int prot, const char** why) {
  // An allowlist, not a denylist: a flag memmap does not know may place a
  // mapping over memory the process already uses (MAP_FIXED and friends:
  // the raw layer takes no address), or make faults the guard cannot
  // absorb (MAP_HUGETLB: with no huge pages reserved, the first touch is
  // SIGBUS, and the guard cannot map a small page inside a hugetlb area).
  int allowed = MAP_SHARED | MAP_PRIVATE;
#ifdef MAP_SHARED_VALIDATE
  allowed |= MAP_SHARED_VALIDATE;
#endif
#ifdef MAP_ANONYMOUS
  allowed |= MAP_ANONYMOUS;
#endif
#ifdef MAP_NORESERVE
  allowed |= MAP_NORESERVE;
#endif
#ifdef MAP_POPULATE
  allowed |= MAP_POPULATE;
#endif
#ifdef MAP_NONBLOCK
  allowed |= MAP_NONBLOCK;
#endif
#ifdef MAP_LOCKED
  allowed |= MAP_LOCKED;
#endif
  if (flags & ~allowed) {
    *why = "only MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK and MAP_LOCKED "
           "are allowed (MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN and MAP_HUGETLB are not)";
    return false;
  }
  int type = flags & (MAP_SHARED | MAP_PRIVATE
#ifdef MAP_SHARED_VALIDATE
                      | MAP_SHARED_VALIDATE
#endif
                     );
  if (type == 0) {
    *why = "one of MAP_SHARED or MAP_PRIVATE is required";
    return false;
  }
  if (!(prot & PROT_READ)) {
    *why = "PROT_READ is required (use mprotect() to make pages inaccessible)";
    return false;
  }
  return true;
}

bool RawAdviceAllowed(int advice) {
  // Only the advice that cannot take memory away from under JavaScript or
  // poison it (MADV_HWPOISON, guard pages) is accepted.
  for (const auto& a : kAdvice) {
    if (a.value == advice) return true;
  }
#ifdef MADV_REMOVE
  if (advice == MADV_REMOVE) return true;
#endif
#ifdef MADV_WIPEONFORK
  if (advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK) return true;
#endif
  return false;
}

bool RawProtAllowed(int prot) {
  return (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) == 0;
}

bool RawIsAnonymous(int flags) { return (flags & MAP_ANONYMOUS) != 0; }

std::vector<Constant> Constants() {
  std::vector<Constant> c = {
      {"PROT_NONE", PROT_NONE},
      {"PROT_READ", PROT_READ},
      {"PROT_WRITE", PROT_WRITE},
      {"PROT_EXEC", PROT_EXEC},
      {"MAP_SHARED", MAP_SHARED},
      {"MAP_PRIVATE", MAP_PRIVATE},
      {"MAP_FIXED", MAP_FIXED},
      {"MAP_ANONYMOUS", MAP_ANONYMOUS},
      {"MAP_ANON", MAP_ANONYMOUS},
      {"MAP_NORESERVE", MAP_NORESERVE},
      {"MAP_POPULATE", sys::PopulateFlag()},  // 0 where the system has none
      {"MS_ASYNC", MS_ASYNC},
      {"MS_SYNC", MS_SYNC},
      {"MS_INVALIDATE", MS_INVALIDATE},
      {"MCL_CURRENT", MCL_CURRENT},
      {"MCL_FUTURE", MCL_FUTURE},
#ifdef MAP_SHARED_VALIDATE
      {"MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE},
#endif
#ifdef MAP_LOCKED
      {"MAP_LOCKED", MAP_LOCKED},
#endif
#ifdef MAP_HUGETLB
      {"MAP_HUGETLB", MAP_HUGETLB},
#endif
#ifdef MAP_NONBLOCK
      {"MAP_NONBLOCK", MAP_NONBLOCK},
#endif
#ifdef MAP_STACK
      {"MAP_STACK", MAP_STACK},
#endif
#ifdef MAP_FIXED_NOREPLACE
      {"MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE},
#endif
#ifdef MAP_GROWSDOWN
      {"MAP_GROWSDOWN", MAP_GROWSDOWN},
#endif
#ifdef MADV_REMOVE
      {"MADV_REMOVE", MADV_REMOVE},
#endif
#ifdef MADV_WIPEONFORK
      {"MADV_WIPEONFORK", MADV_WIPEONFORK},
      {"MADV_KEEPONFORK", MADV_KEEPONFORK},
#endif
  };
  static const NamedValue kUpper[] = {
      {"MADV_NORMAL", MADV_NORMAL},
      {"MADV_RANDOM", MADV_RANDOM},
      {"MADV_SEQUENTIAL", MADV_SEQUENTIAL},
      {"MADV_WILLNEED", MADV_WILLNEED},
      {"MADV_DONTNEED", MADV_DONTNEED},
#ifdef MADV_FREE
      {"MADV_FREE", MADV_FREE},
#endif
#ifdef MADV_HUGEPAGE
      {"MADV_HUGEPAGE", MADV_HUGEPAGE},
      {"MADV_NOHUGEPAGE", MADV_NOHUGEPAGE},
#endif
#ifdef MADV_MERGEABLE
      {"MADV_MERGEABLE", MADV_MERGEABLE},
      {"MADV_UNMERGEABLE", MADV_UNMERGEABLE},
#endif
#ifdef MADV_DONTDUMP
      {"MADV_DONTDUMP", MADV_DONTDUMP},
      {"MADV_DODUMP", MADV_DODUMP},
#endif
#ifdef MADV_DONTFORK
      {"MADV_DONTFORK", MADV_DONTFORK},
      {"MADV_DOFORK", MADV_DOFORK},
#endif
#ifdef MADV_COLD
      {"MADV_COLD", MADV_COLD},
      {"MADV_PAGEOUT", MADV_PAGEOUT},
#endif
#ifdef MADV_POPULATE_READ
      {"MADV_POPULATE_READ", MADV_POPULATE_READ},
      {"MADV_POPULATE_WRITE", MADV_POPULATE_WRITE},
#endif
  };
  for (const auto& a : kUpper) c.push_back({a.name, a.value});
  return c;
}

}  // namespace os
}  // namespace memmap
