{
  # memmap_test: the same addon with the hooks tests need (see
  # MEMMAP_TEST_HOOKS in src/addon.cc), built only by `npm run build:test-addon`
  # (node-gyp rebuild --memmap_test_hooks=1), never at install.
  # memmap_glibc: 1 where the Node that builds runs on glibc (not musl),
  # which alone has the libraries src/glibc_compat.h links by file name.
  "variables": {
    "memmap_test_hooks%": 0,
    "memmap_glibc%": "<!(node -p \"process.platform === 'linux' && process.report.getReport().header.glibcVersionRuntime ? 1 : 0\")"
  },
  "target_defaults": {
    "sources": [
      "src/addon.cc", "src/budget.cc", "src/env.cc", "src/guard_slots.cc", "src/lifetime.cc", "src/map_api.cc", "src/mapping.cc", "src/napi_util.cc", "src/range_api.cc",
      "src/raw.cc", "src/resize.cc", "src/shared.cc", "src/wait.cc", "src/waiter.cc", "src/windows.cc", "src/work.cc"
    ],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
    "conditions": [
      ["OS != 'win'", { "sources": ["src/platform_posix.cc", "src/guard_posix.cc"] }],
      # One build for every Linux that Node 20+ runs on (src/glibc_compat.h):
      # the libraries that hold the old glibc versions it pins are linked by
      # file name, so that they are loaded where glibc is older than 2.34.
      ["OS == 'linux'", { "sources": ["src/glibc_compat.cc"] }],
      ["OS == 'linux' and memmap_glibc == 1", {
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
        { "target_name": "memmap_test", "defines": ["MEMMAP_TEST_HOOKS"] }
      ]
    }]
  ]
}
