{
  # The addon: every unit in sources.json "common" is compiled for the architecture's baseline;
  # each SIMD level's units ("levels") are a static library of their own compiled with that
  # level's flags (scripts/native-flags.cjs), and the addon chooses one at load from cpuid.
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "native/src"
    ],
    "defines": ["NAPI_VERSION=8"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": [
      "<!@(node scripts/native-flags.cjs eigen)",
      "-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden", "-fPIC", "-Wno-maybe-uninitialized",
      "-fno-math-errno", "<!@(node scripts/native-flags.cjs common)"
    ],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "MACOSX_DEPLOYMENT_TARGET": "11.0",
      "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fvisibility=hidden", "-fno-math-errno", "<!@(node scripts/native-flags.cjs eigen)", "<!@(node scripts/native-flags.cjs common)"]
    },
    "msvs_settings": {
      "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/O2"] }
    },
    "conditions": [
      ["OS=='win'", { "include_dirs": ["<!(node scripts/native-flags.cjs eigen-dir)"] }]
    ]
  },
  "targets": [
    {
      "target_name": "metatask_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').levels.avx2.join(' ')\")"],
      "cflags_cc": ["<!@(node scripts/native-flags.cjs level avx2)"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["<!@(node scripts/native-flags.cjs level avx2)"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!@(node scripts/native-flags.cjs level avx2)"] } }
    },
    {
      "target_name": "metatask_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').levels.avx512.join(' ')\")"],
      "cflags_cc": ["<!@(node scripts/native-flags.cjs level avx512)"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["<!@(node scripts/native-flags.cjs level avx512)"] },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["<!@(node scripts/native-flags.cjs level avx512)"] } }
    },
    {
      "target_name": "metatask",
      "dependencies": ["metatask_avx2", "metatask_avx512"],
      "sources": ["<!@(node -p \"require('./native/sources.json').common.join(' ')\")"]
    }
  ]
}
