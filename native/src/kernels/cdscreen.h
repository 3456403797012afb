// The per-feature passes of the working-set elastic-net solver (twin: lib/kernels/js/cdscreen.ts,
// whose header gives the formulas). Plain loops over d features; every value is a sum, product,
// quotient or square root of two doubles in a fixed order (no contraction: -ffp-contract=off), so
// the twins agree bit for bit. Arrays are of length d, matrices d x T row-major.
#pragma once
#include "kernels/common.h"

namespace metatask::cd {

// What the solve knows of each feature (types.ts CdFeatureState).
struct FeatureState {
  const double* colNormSq;
  const double* corr;  // d x T
  const double* corrNorm;
  const int32_t* corrVersion;
  const double* corrDrift;
  const uint8_t* nonZero;
  const double* w;  // d x T
  int64_t d, T;
  int32_t version;
  double drift;
};

// xi[j] for every feature with colNormSq[j] > 0 (others untouched); returns max(l1Reg, max_j xi[j]).
double dualNorms(const FeatureState& s, double l1Reg, double l2Reg, double* xi);

// Clears active[j] where active[j], !nonZero[j] and xi[j] / scale + radius sqrt(colNormSq[j] + l2Reg)
// < threshold; returns how many it cleared.
int64_t screen(uint8_t* active, const uint8_t* nonZero, const double* xi, const double* colNormSq, int64_t d, double scale,
               double radius, double l2Reg, double threshold);

// Writes the j with eligible[j], corrVersion[j] != version and xi[j] > limit (or NaN: a bound that
// says nothing), ascending, to out; returns their number.
int64_t staleFeatures(const int32_t* corrVersion, int32_t version, const uint8_t* eligible, const double* xi, int64_t d,
                      double limit, int32_t* out);

// The j with flags[j] != 0 and, when except is not null, except[j] == 0, ascending: the first
// outLen of them written to out; returns their number (which may exceed outLen).
int64_t flaggedFeatures(const uint8_t* flags, const uint8_t* except, int64_t d, int32_t* out, int64_t outLen);

// flags[j] = 1 where values[j] > 0, else 0 (NaN: 0); returns the number of ones.
int64_t flagPositive(const double* values, int64_t d, uint8_t* flags);

// The next working set, ascending, into out; returns its size (types.ts CdWorkingSetArgs; a NaN
// violation: none given; fullSetLimit 0: none given).
int64_t workingSet(const uint8_t* active, const uint8_t* nonZero, const double* xi, int64_t d, double strong, int64_t minSize,
                   double violation, int64_t fullSetLimit, int32_t* out);

// What cdSetRows returns: the change of the number of non-zero rows, and sum_c ||values_c||,
// sum_c ||values_c||^2 over the rows written.
struct RowsSet {
  int64_t supportChange;
  double l21;
  double normSq;
};

// w[rows[c]] = values[c] (values k x T, w d x T) and nonZero[rows[c]] = (that row is not zero), in
// the order of rows.
RowsSet setRows(double* w, uint8_t* nonZero, int64_t T, const int32_t* rows, int64_t k, const double* values);

// The correlations of the listed features at the current residual: corr[cols[c]] = values[c]
// (values k x T, corr d x T), corrNorm[cols[c]] = norms[c] (||values[c]|| when norms is null),
// corrVersion[cols[c]] = version and corrDrift[cols[c]] = drift.
void setCorrelations(double* corr, double* corrNorm, int32_t* corrVersion, double* corrDrift, int64_t T, int32_t version,
                     double drift, const int32_t* cols, int64_t k, const double* values, const double* norms);

}  // namespace metatask::cd
