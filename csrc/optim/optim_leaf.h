// Optimizer update leaf loops (Keras 3 formulas), one pass per weight, in place.
// Included once per ISA inside namespace fastnet::optim::<isa> (no STL here: see
// ARCHITECTURE.md's rule for ISA files). Plain loops; GCC vectorizes them.
//
// All arrays are n contiguous float32; slots are updated in place with the var.

static inline float fn_sqrt(float x) { return __builtin_sqrtf(x); }

// SGD: m = momentum*m - lr*g; var += nesterov ? momentum*m - lr*g : m  (m == nullptr: var -= lr*g)
void sgd(float* __restrict var, const float* __restrict g, float* __restrict m, int64_t n, float lr,
         float momentum, int nesterov) {
  if (!m) {
    for (int64_t i = 0; i < n; ++i) var[i] -= lr * g[i];
    return;
  }
  if (nesterov) {
    for (int64_t i = 0; i < n; ++i) {
      float mi = momentum * m[i] - lr * g[i];
      m[i] = mi;
      var[i] += momentum * mi - lr * g[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      float mi = momentum * m[i] - lr * g[i];
      m[i] = mi;
      var[i] += mi;
    }
  }
}

// RMSprop: vel = rho*vel + (1-rho)*g^2; [centered: avg = rho*avg + (1-rho)*g, denom = vel - avg^2]
// inc = lr*g/sqrt(denom + eps); [momentum: mom = momentum*mom + inc; var -= mom] else var -= inc
void rmsprop(float* __restrict var, const float* __restrict g, float* __restrict vel, float* __restrict mom,
             float* __restrict avg, int64_t n, float lr, float rho, float momentum, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float v = rho * vel[i] + (1.0f - rho) * gi * gi;
    vel[i] = v;
    float denom = v;
    if (avg) {
      float a = rho * avg[i] + (1.0f - rho) * gi;
      avg[i] = a;
      denom = v - a * a;
    }
    float inc = lr * gi / fn_sqrt(denom + eps);
    if (mom) {
      float mm = momentum * mom[i] + inc;
      mom[i] = mm;
      var[i] -= mm;
    } else {
      var[i] -= inc;
    }
  }
}

// Adam: m += (g-m)(1-b1); v += (g^2-v)(1-b2); [amsgrad: vhat = max(vhat, v)]
// var -= alpha * m / (sqrt(v or vhat) + eps), alpha = lr*sqrt(1-b2^t)/(1-b1^t)
void adam(float* __restrict var, const float* __restrict g, float* __restrict m, float* __restrict v,
          float* __restrict vhat, int64_t n, float alpha, float b1, float b2, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * (1.0f - b1);
    float vi = v[i] + (gi * gi - v[i]) * (1.0f - b2);
    m[i] = mi;
    v[i] = vi;
    if (vhat) {
      float h = vhat[i] > vi ? vhat[i] : vi;
      vhat[i] = h;
      vi = h;
    }
    var[i] -= alpha * mi / (fn_sqrt(vi) + eps);
  }
}

// Adagrad: acc += g^2; var -= lr*g/sqrt(acc + eps)
void adagrad(float* __restrict var, const float* __restrict g, float* __restrict acc, int64_t n, float lr,
             float eps) {
  for (int64_t i = 0; i < n; ++i) {
    float a = acc[i] + g[i] * g[i];
    acc[i] = a;
    var[i] -= lr * g[i] / fn_sqrt(a + eps);
  }
}

// Adadelta: ag = rho*ag + (1-rho)g^2; d = -sqrt(ad+eps)/sqrt(ag+eps)*g;
// ad = rho*ad + (1-rho)d^2; var += lr*d
void adadelta(float* __restrict var, const float* __restrict g, float* __restrict ag, float* __restrict ad,
              int64_t n, float lr, float rho, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float a = rho * ag[i] + (1.0f - rho) * gi * gi;
    ag[i] = a;
    float d = -fn_sqrt(ad[i] + eps) / fn_sqrt(a + eps) * gi;
    ad[i] = rho * ad[i] + (1.0f - rho) * d * d;
    var[i] += lr * d;
  }
}

// Nadam (Keras 3): m, v as Adam; m_hat = u_t1*m/(1-up_t1) + (1-u_t)*g/(1-up_t);
// v_hat = v/(1-b2^t); var -= lr*m_hat/(sqrt(v_hat)+eps)
void nadam(float* __restrict var, const float* __restrict g, float* __restrict m, float* __restrict v,
           int64_t n, float lr, float b1, float b2, float eps, float u_t, float u_t1, float up_t, float up_t1,
           float b2p) {
  const float c1 = u_t1 / (1.0f - up_t1), c2 = (1.0f - u_t) / (1.0f - up_t), c3 = 1.0f / (1.0f - b2p);
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i];
    float mi = m[i] + (gi - m[i]) * (1.0f - b1);
    float vi = v[i] + (gi * gi - v[i]) * (1.0f - b2);
    m[i] = mi;
    v[i] = vi;
    float mh = c1 * mi + c2 * gi;
    var[i] -= lr * mh / (fn_sqrt(vi * c3) + eps);
  }
}

OptimTable table() {
  OptimTable t;
  t.sgd = &sgd;
  t.rmsprop = &rmsprop;
  t.adam = &adam;
  t.adagrad = &adagrad;
  t.adadelta = &adadelta;
  t.nadam = &nadam;
  return t;
}
