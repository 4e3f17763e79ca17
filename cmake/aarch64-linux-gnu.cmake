# CMake toolchain for scripts/cross-aarch64: Debian's g++-aarch64-linux-gnu, with the arm64
# libraries unpacked into LMF_AARCH64_SYSROOT (not installed into the system) and the C
# library of the cross compiler (/usr/aarch64-linux-gnu).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(LMF_AARCH64_SYSROOT "$ENV{LMF_AARCH64_SYSROOT}" CACHE PATH "unpacked arm64 packages")
set(CMAKE_FIND_ROOT_PATH "${LMF_AARCH64_SYSROOT}" /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Test binaries (and gtest's discovery at build time) run under qemu-user.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} "${LMF_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${LMF_AARCH64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${LMF_AARCH64_SYSROOT}")
# Libraries find their dependencies (libgfortran, libevent, ...) in the unpacked tree.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${LMF_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${LMF_AARCH64_SYSROOT}/lib/aarch64-linux-gnu -Wl,-rpath-link,${LMF_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu/openblas-pthread")
