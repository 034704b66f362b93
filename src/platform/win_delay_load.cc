// Windows only: the addon imports its Node-API and libuv functions from
// "node.exe" through a delay-load table, and this hook resolves them against
// the program that loaded it, whatever its file is called (node.exe,
// node22.exe, an embedder). node-gyp's win_delay_load_hook does the same
// for MSVC builds; mingw declares the hook as a variable of its own
// libmingwex, so it is set here at load time instead of defined.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <delayimp.h>

#include <cstring>

namespace {

FARPROC WINAPI LoadHostHook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || _stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

struct InstallHook {
  InstallHook() { __pfnDliNotifyHook2 = LoadHostHook; }
} install_hook;

}  // namespace
