{
  # memmap_test: the same addon with the hooks tests need (see
  # MEMMAP_TEST_HOOKS in src/addon.cc), built only by `npm run build:test-addon`
  # (node-gyp rebuild --memmap_test_hooks=1), never at install.
  "variables": { "memmap_test_hooks%": 0 },
  "target_defaults": {
    "sources": [
      "src/addon.cc", "src/env.cc", "src/lifetime.cc", "src/map_api.cc", "src/mapping.cc", "src/napi_util.cc", "src/range_api.cc",
      "src/raw.cc", "src/resize.cc", "src/shared.cc", "src/wait.cc", "src/waiter.cc", "src/windows.cc", "src/work.cc"
    ],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
    "conditions": [
      ["OS != 'win'", { "sources": ["src/platform_posix.cc", "src/guard_posix.cc"] }]
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
