// Prints the machine-specific compiler flags for a local source build: -march=native unless
// METATASK_PORTABLE=1 (prebuilt binaries and portable builds use the compiler's baseline).
// Read by binding.gyp and CMakeLists.txt.
'use strict';
const portable = process.env.METATASK_PORTABLE === '1' || process.env.METATASK_PORTABLE === 'true';
const arch = process.arch;
if (!portable && (arch === 'x64' || arch === 'arm64')) {
  process.stdout.write(arch === 'x64' ? '-march=native' : '-mcpu=native');
}
