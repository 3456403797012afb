{
  "targets": [
    {
      "target_name": "metatask",
      "sources": ["<!@(node -p \"require('./native/sources.json').join(' ')\")"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["<!@(pkg-config --cflags-only-I eigen3 | sed s/-I/-isystem/g)", "-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden", "-Wno-maybe-uninitialized", "-fno-math-errno", "<!@(node scripts/cpu-flags.cjs)"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fvisibility=hidden", "-fno-math-errno", "<!@(node scripts/cpu-flags.cjs)"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"] }
      }
    }
  ]
}
