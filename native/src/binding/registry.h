// One registration function per binding file (addon.cc calls them all), and the per-environment
// state they share.
#pragma once
#include "config.h"

#include <napi.h>

namespace metatask::binding {

void registerLinalg(Napi::Env env, Napi::Object exports);
void registerProx(Napi::Env env, Napi::Object exports);
void registerCd(Napi::Env env, Napi::Object exports);
void registerTaskLoss(Napi::Env env, Napi::Object exports);
void registerOptim(Napi::Env env, Napi::Object exports);
void registerNetwork(Napi::Env env, Napi::Object exports);
void registerRandom(Napi::Env env, Napi::Object exports);

// The thread bound set by setThreads in this environment (the main thread and each worker thread
// have their own).
int threadsOf(Napi::Env env);

}  // namespace metatask::binding
