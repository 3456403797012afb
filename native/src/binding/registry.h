// One registration function per binding file; addon.cc calls them all.
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
}  // namespace metatask::binding
