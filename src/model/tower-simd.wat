;; The dense part of a two-tower training step (see tower-kernel.ts) in WebAssembly SIMD,
;; float32. Hand-written; `npm run wasm` compiles it into tower-simd-wasm.ts (the bytes the
;; runtime loads), and a test fails when the two drift apart.
;;
;; Matrices are row-major in this module's memory; the caller (tower-kernel.ts) pads every
;; row to a multiple of 8 floats and passes byte addresses and strides in floats. A padding
;; column of a product depends only on the same padding column of its right operand, so
;; whatever the padding holds never reaches the real columns (the caller reads only those).
(module
  (memory (export "memory") 1)

  ;; C[m, n] = A[m, k] B[k, n] (acc = 0) or C += A B (acc = 1); n a multiple of 8, k >= 1.
  ;; A's element (i, p) is at a + 4 (i ars + p acs): (ars, acs) = (lda, 1) for A as stored,
  ;; (1, lda) for the transpose of a stored [k, m] matrix (no copy needed).
  ;; Blocks of 4 rows x 8 columns held in eight 4-lane sums (the remaining m mod 4 rows one at a
  ;; time); each sum runs over p = 0..k-1 in order, so a row's result does not depend on m.
  (func (export "gemm") (param $a i32) (param $ars i32) (param $acs i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
        (param $m i32) (param $k i32) (param $n i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $p i32) (local $ldaB i32) (local $acsB i32) (local $ldbB i32) (local $ldcB i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32) (local $cp i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (local.set $ldaB (i32.shl (local.get $ars) (i32.const 2)))
    (local.set $acsB (i32.shl (local.get $acs) (i32.const 2)))
    (local.set $ldbB (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $ldcB (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ldaB))))
          (local.set $a1 (i32.add (local.get $a0) (local.get $ldaB)))
          (local.set $a2 (i32.add (local.get $a1) (local.get $ldaB)))
          (local.set $a3 (i32.add (local.get $a2) (local.get $ldaB)))
          (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
          (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
          (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
          (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
          (local.set $p (local.get $k))
          (loop $inner
            (local.set $b0 (v128.load (local.get $bp)))
            (local.set $b1 (v128.load offset=16 (local.get $bp)))
            (local.set $s (v128.load32_splat (local.get $a0)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat (local.get $a1)))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat (local.get $a2)))
            (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat (local.get $a3)))
            (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $a0 (i32.add (local.get $a0) (local.get $acsB)))
            (local.set $a1 (i32.add (local.get $a1) (local.get $acsB)))
            (local.set $a2 (i32.add (local.get $a2) (local.get $acsB)))
            (local.set $a3 (i32.add (local.get $a3) (local.get $acsB)))
            (local.set $bp (i32.add (local.get $bp) (local.get $ldbB)))
            (br_if $inner (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
          (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
          (if (local.get $acc) (then
            (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $cp))))
            (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $cp))))))
          (v128.store (local.get $cp) (local.get $c00))
          (v128.store offset=16 (local.get $cp) (local.get $c01))
          (local.set $cp (i32.add (local.get $cp) (local.get $ldcB)))
          (if (local.get $acc) (then
            (local.set $c10 (f32x4.add (local.get $c10) (v128.load (local.get $cp))))
            (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (local.get $cp))))))
          (v128.store (local.get $cp) (local.get $c10))
          (v128.store offset=16 (local.get $cp) (local.get $c11))
          (local.set $cp (i32.add (local.get $cp) (local.get $ldcB)))
          (if (local.get $acc) (then
            (local.set $c20 (f32x4.add (local.get $c20) (v128.load (local.get $cp))))
            (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (local.get $cp))))))
          (v128.store (local.get $cp) (local.get $c20))
          (v128.store offset=16 (local.get $cp) (local.get $c21))
          (local.set $cp (i32.add (local.get $cp) (local.get $ldcB)))
          (if (local.get $acc) (then
            (local.set $c30 (f32x4.add (local.get $c30) (v128.load (local.get $cp))))
            (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (local.get $cp))))))
          (v128.store (local.get $cp) (local.get $c30))
          (v128.store offset=16 (local.get $cp) (local.get $c31))
          (br_if $cols (i32.lt_s (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $n))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $quads)))
    ;; The last m mod 4 rows, one at a time.
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $m)))
        (local.set $j (i32.const 0))
        (loop $cols1
          (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $ldaB))))
          (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
          (local.set $p (local.get $k))
          (loop $inner1
            (local.set $b0 (v128.load (local.get $bp)))
            (local.set $b1 (v128.load offset=16 (local.get $bp)))
            (local.set $s (v128.load32_splat (local.get $a0)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $a0 (i32.add (local.get $a0) (local.get $acsB)))
            (local.set $bp (i32.add (local.get $bp) (local.get $ldbB)))
            (br_if $inner1 (local.tee $p (i32.sub (local.get $p) (i32.const 1)))))
          (local.set $cp (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
          (if (local.get $acc) (then
            (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $cp))))
            (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $cp))))))
          (v128.store (local.get $cp) (local.get $c00))
          (v128.store offset=16 (local.get $cp) (local.get $c01))
          (br_if $cols1 (i32.lt_s (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $n))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; dst[c, r] = src[r, c] for r < rows, c < cols (strides lds, ldd in floats); the padding of dst untouched.
  (func (export "transpose") (param $src i32) (param $lds i32) (param $dst i32) (param $ldd i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $sp i32) (local $dp i32) (local $lddB i32)
    (local.set $lddB (i32.shl (local.get $ldd) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $done
      (loop $rowsL
        (br_if $done (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $sp (i32.add (local.get $src) (i32.shl (i32.mul (local.get $r) (local.get $lds)) (i32.const 2))))
        (local.set $dp (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2))))
        (local.set $c (local.get $cols))
        (block $rowDone
          (loop $colsL
            (br_if $rowDone (i32.eqz (local.get $c)))
            (f32.store (local.get $dp) (f32.load (local.get $sp)))
            (local.set $sp (i32.add (local.get $sp) (i32.const 4)))
            (local.set $dp (i32.add (local.get $dp) (local.get $lddB)))
            (local.set $c (i32.sub (local.get $c) (i32.const 1)))
            (br $colsL)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsL))))

  ;; The element-wise passes below run over whole rows of `ld` floats (a multiple of 4): the
  ;; caller keeps the padding columns zero in weights, biases and the softmax's bias row, so
  ;; padding columns stay zero (or, in the logits, drop out of every sum).

  ;; h[i, :] = h[i, :] + bias (then max(., 0) when relu) for `rows` rows of stride ld.
  (func (export "biasAct") (param $h i32) (param $ld i32) (param $rows i32) (param $bias i32) (param $relu i32)
    (local $end i32) (local $j i32) (local $v v128) (local $rowEnd i32)
    (local.set $end (i32.add (local.get $h) (i32.shl (i32.mul (local.get $rows) (local.get $ld)) (i32.const 2))))
    (block $done
      (loop $rowsL
        (br_if $done (i32.ge_u (local.get $h) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $h) (i32.shl (local.get $ld) (i32.const 2))))
        (local.set $j (local.get $bias))
        (loop $cols
          (local.set $v (f32x4.add (v128.load (local.get $h)) (v128.load (local.get $j))))
          (if (local.get $relu) (then (local.set $v (f32x4.max (local.get $v) (v128.const i32x4 0 0 0 0)))))
          (v128.store (local.get $h) (local.get $v))
          (local.set $h (i32.add (local.get $h) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $h) (local.get $rowEnd))))
        (br $rowsL))))

  ;; g = g where act > 0, else 0 (the ReLU's backward), over n floats.
  (func (export "reluMask") (param $g i32) (param $act i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $g) (local.get $end)))
        (v128.store (local.get $g)
          (v128.and (v128.load (local.get $g)) (f32x4.gt (v128.load (local.get $act)) (v128.const i32x4 0 0 0 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $act (i32.add (local.get $act) (i32.const 16)))
        (br $l))))

  ;; out[j] = sum over the rows of g[i, j] (rows in order), ld floats.
  (func (export "colSums") (param $g i32) (param $ld i32) (param $rows i32) (param $out i32)
    (local $j i32) (local $p i32) (local $i i32) (local $s v128) (local $ldB i32)
    (local.set $ldB (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $j (i32.const 0))
    (block $done
      (loop $cols
        (br_if $done (i32.ge_u (local.get $j) (local.get $ldB)))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $g) (local.get $j)))
        (local.set $i (local.get $rows))
        (block $rowsDone
          (loop $rowsL
            (br_if $rowsDone (i32.eqz (local.get $i)))
            (local.set $s (f32x4.add (local.get $s) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $ldB)))
            (local.set $i (i32.sub (local.get $i) (i32.const 1)))
            (br $rowsL)))
        (v128.store (i32.add (local.get $out) (local.get $j)) (local.get $s))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $cols))))

  ;; Σ of the four lanes.
  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 2 (local.get $v)))
      (f32.add (f32x4.extract_lane 1 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; out[i, :] = h[i, :] / sqrt(Σ h[i, :]² + 1e-12); inv[i] = that 1 / norm (l2Normalize's forward).
  (func (export "normalize") (param $h i32) (param $out i32) (param $ld i32) (param $rows i32) (param $inv i32)
    (local $i i32) (local $p i32) (local $q i32) (local $end i32) (local $s v128) (local $scale v128) (local $ldB i32) (local $x v128)
    (local.set $ldB (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $rowsL
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $p (i32.add (local.get $h) (i32.mul (local.get $i) (local.get $ldB))))
        (local.set $end (i32.add (local.get $p) (local.get $ldB)))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (loop $sq
          (local.set $x (v128.load (local.get $p)))
          (local.set $s (f32x4.add (local.get $s) (f32x4.mul (local.get $x) (local.get $x))))
          (br_if $sq (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $end))))
        (local.set $scale (f32x4.splat (f32.div (f32.const 1) (f32.sqrt (f32.add (call $hsum (local.get $s)) (f32.const 1e-12))))))
        (f32.store (i32.add (local.get $inv) (i32.shl (local.get $i) (i32.const 2))) (f32x4.extract_lane 0 (local.get $scale)))
        (local.set $p (i32.sub (local.get $p) (local.get $ldB)))
        (local.set $q (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $ldB))))
        (loop $sc
          (v128.store (local.get $q) (f32x4.mul (v128.load (local.get $p)) (local.get $scale)))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (br_if $sc (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 16))) (local.get $end))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsL))))

  ;; dh[i, :] = (dy[i, :] - y[i, :] <dy[i, :], y[i, :]>) inv[i] (l2Normalize's backward).
  (func (export "normalizeBack") (param $y i32) (param $dy i32) (param $dh i32) (param $ld i32) (param $rows i32) (param $inv i32)
    (local $i i32) (local $o i32) (local $s v128) (local $dot v128) (local $scale v128) (local $ldB i32) (local $row i32)
    (local.set $ldB (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $rowsL
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $row (i32.mul (local.get $i) (local.get $ldB)))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (local.set $o (i32.const 0))
        (loop $d
          (local.set $s (f32x4.add (local.get $s)
            (f32x4.mul (v128.load (i32.add (local.get $dy) (i32.add (local.get $row) (local.get $o))))
                       (v128.load (i32.add (local.get $y) (i32.add (local.get $row) (local.get $o)))))))
          (br_if $d (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 16))) (local.get $ldB))))
        (local.set $dot (f32x4.splat (call $hsum (local.get $s))))
        (local.set $scale (v128.load32_splat (i32.add (local.get $inv) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $o (i32.const 0))
        (loop $w
          (v128.store (i32.add (local.get $dh) (i32.add (local.get $row) (local.get $o)))
            (f32x4.mul
              (f32x4.sub (v128.load (i32.add (local.get $dy) (i32.add (local.get $row) (local.get $o))))
                         (f32x4.mul (v128.load (i32.add (local.get $y) (i32.add (local.get $row) (local.get $o)))) (local.get $dot)))
              (local.get $scale)))
          (br_if $w (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 16))) (local.get $ldB))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsL))))

  ;; e^x for x <= 0, four lanes (Cephes expf: x = n ln 2 + r, |r| <= ln 2 / 2, a degree-5
  ;; polynomial, 2^n through the exponent bits); below -87.33 (2^-126) it is 0.
  (func $exp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $y v128) (local $tiny v128)
    (local.set $tiny (f32x4.lt (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654)))
    (local.set $x (f32x4.max (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654)))
    (local.set $n (f32x4.floor (f32x4.add (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))
                                          (v128.const f32x4 0.5 0.5 0.5 0.5))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $x)
                                        (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
                             (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $y (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $y (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $y) (local.get $r)) (local.get $r)) (local.get $r))
                             (v128.const f32x4 1 1 1 1)))
    (local.set $y (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (v128.andnot (local.get $y) (local.get $tiny)))

  ;; The in-batch softmax of `rows` rows of logits (stride ld, the padding columns masked by
  ;; bias): x = l invT + bias[j] (+ matrix[i, j] when matrix != 0, stride ld); then
  ;; e = exp(x - max_i); then l = e w[i] / sum_i invT, and biasGrad[j] += e w[i] / sum_i when
  ;; biasGrad != 0. stats[3i .. 3i + 2] = max_i, x_ii, sum_i (the caller subtracts the
  ;; diagonal's 1 and adds up the loss).
  (func (export "softmaxRows") (param $l i32) (param $ld i32) (param $rows i32) (param $invT f32) (param $bias i32) (param $matrix i32)
        (param $w i32) (param $stats i32) (param $biasGrad i32)
    (local $i i32) (local $o i32) (local $ldB i32) (local $row i32) (local $x v128) (local $max v128) (local $sum v128)
    (local $invTv v128) (local $m f32) (local $share v128) (local $g v128)
    (local.set $ldB (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $invTv (f32x4.splat (local.get $invT)))
    (local.set $i (i32.const 0))
    (block $done
      (loop $rowsL
        (br_if $done (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $row (i32.add (local.get $l) (i32.mul (local.get $i) (local.get $ldB))))
        (local.set $max (v128.const f32x4 -3e38 -3e38 -3e38 -3e38))
        (local.set $o (i32.const 0))
        (loop $scale
          (local.set $x (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $o))) (local.get $invTv))
                                   (v128.load (i32.add (local.get $bias) (local.get $o)))))
          (if (local.get $matrix) (then
            (local.set $x (f32x4.add (local.get $x)
              (v128.load (i32.add (i32.add (local.get $matrix) (i32.mul (local.get $i) (local.get $ldB))) (local.get $o)))))))
          (v128.store (i32.add (local.get $row) (local.get $o)) (local.get $x))
          (local.set $max (f32x4.max (local.get $max) (local.get $x)))
          (br_if $scale (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 16))) (local.get $ldB))))
        (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 (local.get $max)) (f32x4.extract_lane 1 (local.get $max)))
                               (f32.max (f32x4.extract_lane 2 (local.get $max)) (f32x4.extract_lane 3 (local.get $max)))))
        (f32.store (i32.add (local.get $stats) (i32.mul (local.get $i) (i32.const 12))) (local.get $m))
        (f32.store offset=4 (i32.add (local.get $stats) (i32.mul (local.get $i) (i32.const 12)))
          (f32.load (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $max (f32x4.splat (local.get $m)))
        (local.set $sum (v128.const i32x4 0 0 0 0))
        (local.set $o (i32.const 0))
        (loop $expL
          (local.set $x (call $exp (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $o))) (local.get $max))))
          (v128.store (i32.add (local.get $row) (local.get $o)) (local.get $x))
          (local.set $sum (f32x4.add (local.get $sum) (local.get $x)))
          (br_if $expL (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 16))) (local.get $ldB))))
        (f32.store offset=8 (i32.add (local.get $stats) (i32.mul (local.get $i) (i32.const 12))) (call $hsum (local.get $sum)))
        (local.set $share (f32x4.splat (f32.div (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))
                                                (call $hsum (local.get $sum)))))
        (local.set $o (i32.const 0))
        (loop $gradL
          (local.set $g (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $o))) (local.get $share)))
          (if (local.get $biasGrad) (then
            (v128.store (i32.add (local.get $biasGrad) (local.get $o))
              (f32x4.add (v128.load (i32.add (local.get $biasGrad) (local.get $o))) (local.get $g)))))
          (v128.store (i32.add (local.get $row) (local.get $o)) (f32x4.mul (local.get $g) (local.get $invTv)))
          (br_if $gradL (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 16))) (local.get $ldB))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsL))))

  ;; Adam on n floats (a multiple of 4) at w, g, m, v: DenseOptimizer's update in float32, every
  ;; product, sum, quotient and square root in the order of its JS loop and TF.js ops (each f32x4
  ;; op rounds as Math.fround of the double result does), so the three give the same bits:
  ;; g' = g s (scaled = 1); m = m b1 + g' a1; v = v b2 + (g' g') a2; w = w - (m r1) / (sqrt(v c2) + eps).
  (func (export "adam") (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
        (param $s f32) (param $scaled i32) (param $b1 f32) (param $a1 f32) (param $b2 f32) (param $a2 f32)
        (param $r1 f32) (param $c2 f32) (param $eps f32)
    (local $end i32) (local $gk v128) (local $mk v128) (local $vk v128)
    (local $S v128) (local $B1 v128) (local $A1 v128) (local $B2 v128) (local $A2 v128) (local $R1 v128) (local $C2 v128) (local $E v128)
    (local.set $S (f32x4.splat (local.get $s)))
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $A1 (f32x4.splat (local.get $a1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $A2 (f32x4.splat (local.get $a2)))
    (local.set $R1 (f32x4.splat (local.get $r1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $E (f32x4.splat (local.get $eps)))
    (local.set $end (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $w) (local.get $end)))
        (local.set $gk (v128.load (local.get $g)))
        (if (local.get $scaled) (then (local.set $gk (f32x4.mul (local.get $gk) (local.get $S)))))
        (local.set $mk (f32x4.add (f32x4.mul (v128.load (local.get $m)) (local.get $B1)) (f32x4.mul (local.get $gk) (local.get $A1))))
        (v128.store (local.get $m) (local.get $mk))
        (local.set $vk (f32x4.add (f32x4.mul (v128.load (local.get $v)) (local.get $B2))
                                  (f32x4.mul (f32x4.mul (local.get $gk) (local.get $gk)) (local.get $A2))))
        (v128.store (local.get $v) (local.get $vk))
        (v128.store (local.get $w)
          (f32x4.sub (v128.load (local.get $w))
            (f32x4.div (f32x4.mul (local.get $mk) (local.get $R1))
                       (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vk) (local.get $C2))) (local.get $E)))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br $l))))
)
