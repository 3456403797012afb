// Every #define of the native build, included first by every translation unit.
#pragma once

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define NODE_ADDON_API_CPP_EXCEPTIONS
#define NODE_ADDON_API_DISABLE_DEPRECATED
// A worker terminated mid-call must not abort the process (better-sqlite3 needed this).
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
// Electron's V8 sandbox rejects external ArrayBuffers; we never create them.
#define NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
#define EIGEN_MPL2_ONLY
// We own threading (setThreads); Eigen's OpenMP parallelism stays off.
#define EIGEN_DONT_PARALLELIZE

#define METATASK_NATIVE_VERSION "0.1.0"
