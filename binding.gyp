{
  # memmap_test: the same addon with the hooks tests need (see
  # MEMMAP_TEST_HOOKS in src/napi/addon.cc), built only by `npm run build:test-addon`
  # (node-gyp rebuild --memmap_test_hooks=1), never at install.
  # memmap_glibc: 1 where the Node that builds runs on glibc (not musl),
  # which alone has the libraries src/platform/glibc_compat.h links by file name.
  "variables": {
    "memmap_test_hooks%": 0,
    # memmap_darwin_paths: 1 builds the Linux addon the way macOS's is built
    # (`node-gyp rebuild --memmap_darwin_paths=1`, `npm run test:darwin-paths`):
    # src/platform/darwin_common.cc over src/platform/darwin_paths.cc, Linux
    # stand-ins with macOS's semantics, instead of src/platform/linux.cc.
    # (gyp takes a variable whose name ends in _paths for paths, and a value
    # given on the command line comes relative to build/: "build/1".)
    "memmap_darwin_paths%": 0,
    "memmap_glibc%": "<!(node -p \"process.platform === 'linux' && process.report.getReport().header.glibcVersionRuntime ? 1 : 0\")"
  },
  # The one source list per OS (scripts/gyp-sources.mjs reads it for the
  # builds that do not go through node-gyp: the Windows and macOS prebuilds,
  # the C++ unit tests). src/core/ has no Node-API, src/napi/ is the
  # bindings, src/platform/ the operating system, by system and concern:
  # posix*.cc what every POSIX system shares, linux.cc, darwin.cc and the
  # win*.cc files what only one of them has.
  "target_defaults": {
    "sources": [
      "src/core/budget.cc", "src/core/guard_slots.cc", "src/core/lease.cc", "src/core/range.cc", "src/core/range_file.cc", "src/core/range_pages.cc", "src/core/waiter.cc",
      "src/napi/addon.cc", "src/napi/env.cc", "src/napi/faults.cc", "src/napi/files.cc", "src/napi/mapping.cc",
      "src/napi/mapping_pages.cc", "src/napi/raw.cc", "src/napi/shared.cc", "src/napi/slabs.cc", "src/napi/util.cc",
      "src/napi/wait.cc", "src/napi/work.cc"
    ],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
    "conditions": [
      ["OS == 'linux' and memmap_darwin_paths not in (1, '1', 'build/1')", {
        "sources": ["src/platform/posix.cc", "src/platform/posix_files.cc", "src/platform/posix_map.cc", "src/platform/posix_shm.cc", "src/platform/posix_flags.cc", "src/platform/linux.cc", "src/platform/guard_posix.cc", "src/platform/glibc_compat.cc"]
      }],
      ["OS == 'linux' and memmap_darwin_paths in (1, '1', 'build/1')", {
        "sources": ["src/platform/posix.cc", "src/platform/posix_files.cc", "src/platform/posix_map.cc", "src/platform/posix_shm.cc", "src/platform/posix_flags.cc", "src/platform/darwin_common.cc", "src/platform/darwin_paths.cc", "src/platform/guard_posix.cc", "src/platform/glibc_compat.cc"],
        "defines": ["MEMMAP_DARWIN_PATHS"]
      }],
      ["OS == 'mac'", {
        "sources": ["src/platform/posix.cc", "src/platform/posix_files.cc", "src/platform/posix_map.cc", "src/platform/posix_shm.cc", "src/platform/posix_flags.cc", "src/platform/darwin_common.cc", "src/platform/darwin.cc", "src/platform/guard_posix.cc"]
      }],
      ["OS == 'win'", {
        "sources": ["src/platform/win.cc", "src/platform/win_files.cc", "src/platform/win_ranges.cc", "src/platform/win_map.cc", "src/platform/win_shm.cc", "src/platform/win_wait.cc", "src/platform/win_raw.cc", "src/platform/win_delay_load.cc", "src/platform/guard_win.cc"],
        "defines": ["_WIN32_WINNT=0x0A00", "WIN32_LEAN_AND_MEAN", "NOMINMAX"],
        "libraries": ["psapi.lib"]
      }],
      # One build for every Linux that Node 20+ runs on (src/platform/glibc_compat.h):
      # old symbol versions are pinned, and the libraries that hold them are
      # linked by file name, so that they are loaded where glibc is older than 2.34.
      ["OS == 'linux' and memmap_glibc == 1", {
        "defines": ["MEMMAP_GLIBC_PINS"],
        "libraries": ["-Wl,--no-as-needed", "-l:libpthread.so.0", "-l:libdl.so.2", "-l:librt.so.1", "-Wl,--as-needed"]
      }]
    ],
    "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "11.0" }
  },
  "targets": [
    { "target_name": "memmap" }
  ],
  "conditions": [
    ["memmap_test_hooks == 1", {
      "targets": [
        { "target_name": "memmap_test", "defines": ["MEMMAP_TEST_HOOKS", "MEMMAP_DEBUG_CHECKS"] }
      ]
    }]
  ]
}
