{
  "targets": [
    {
      "target_name": "memmap",
      "sources": ["src/addon.cc", "src/waiter.cc"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-exceptions"],
      "conditions": [
        ["OS != 'win'", { "sources": ["src/platform_posix.cc", "src/guard_posix.cc"] }]
      ],
      "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "11.0" }
    }
  ]
}
