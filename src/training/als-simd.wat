;; The conjugate-gradient block solve of implicit ALS (see als-kernel.ts, cgBlock) in
;; WebAssembly SIMD, float32 arithmetic (f32x4). Hand-written; `npm run wasm` compiles it into
;; als-simd-wasm.ts (the bytes the runtime loads), and a test fails when the two drift apart.
;;
;; Every vector lives in this module's own memory, rows padded to `fp` floats (a multiple of
;; 8; the padding columns are zero in G, Y and X, so they stay zero and change no sum). The
;; caller (als-kernel.ts) lays out the regions and passes their byte addresses to `cg`.
;; Each row's arithmetic runs in the same order whichever rows share its block, so a row's
;; result does not depend on its neighbours (bit-identical for any thread count).
(module
  (memory (export "memory") 1)

  ;; Σ a[i] b[i] over n floats (n a multiple of 8): two 4-lane sums, then lanes (0 + 2) + (1 + 3).
  (func $dot (param $a i32) (param $b i32) (param $n i32) (result f32)
    (local $end i32) (local $s0 v128) (local $s1 v128)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $s0 (v128.const i32x4 0 0 0 0))
    (local.set $s1 (v128.const i32x4 0 0 0 0))
    (loop $l
      (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load (local.get $a)) (v128.load (local.get $b)))))
      (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (i32.const 32)))
      (local.set $b (i32.add (local.get $b) (i32.const 32)))
      (br_if $l (i32.lt_u (local.get $a) (local.get $end))))
    (local.set $s0 (f32x4.add (local.get $s0) (local.get $s1)))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 2 (local.get $s0)))
      (f32.add (f32x4.extract_lane 1 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))

  ;; dst[i] += w src[i] over n floats (n a multiple of 8).
  (func $axpy (param $w f32) (param $src i32) (param $dst i32) (param $n i32)
    (local $end i32) (local $wv v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $wv (f32x4.splat (local.get $w)))
    (loop $l
      (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (f32x4.mul (local.get $wv) (v128.load (local.get $src)))))
      (v128.store offset=16 (local.get $dst) (f32x4.add (v128.load offset=16 (local.get $dst)) (f32x4.mul (local.get $wv) (v128.load offset=16 (local.get $src)))))
      (local.set $src (i32.add (local.get $src) (i32.const 32)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
      (br_if $l (i32.lt_u (local.get $src) (local.get $end)))))

  ;; out[r] = G v[r] + reg v[r] for the 4 consecutive rows at v (stride fp floats), G symmetric
  ;; [fp x fp] at g: 8 columns at a time, out[r][c..c+8) = Σ_b v[r][b] G[b][c..c+8) in b order.
  (func $dense4 (param $g i32) (param $v i32) (param $out i32) (param $fp i32) (param $reg f32)
    (local $row i32) (local $c i32) (local $gp i32) (local $gend i32)
    (local $v0 i32) (local $v1 i32) (local $v2 i32) (local $v3 i32)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128)
    (local $c0 v128) (local $c1 v128) (local $d0 v128) (local $d1 v128)
    (local $g0 v128) (local $g1 v128) (local $s v128) (local $regv v128) (local $o i32) (local $vo i32)
    (local.set $row (i32.shl (local.get $fp) (i32.const 2)))
    (local.set $regv (f32x4.splat (local.get $reg)))
    (local.set $c (i32.const 0))
    (loop $cols
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $b0 (v128.const i32x4 0 0 0 0))
      (local.set $b1 (v128.const i32x4 0 0 0 0))
      (local.set $c0 (v128.const i32x4 0 0 0 0))
      (local.set $c1 (v128.const i32x4 0 0 0 0))
      (local.set $d0 (v128.const i32x4 0 0 0 0))
      (local.set $d1 (v128.const i32x4 0 0 0 0))
      (local.set $gp (i32.add (local.get $g) (local.get $c)))
      (local.set $gend (i32.add (local.get $gp) (i32.mul (local.get $row) (local.get $fp))))
      (local.set $v0 (local.get $v))
      (local.set $v1 (i32.add (local.get $v0) (local.get $row)))
      (local.set $v2 (i32.add (local.get $v1) (local.get $row)))
      (local.set $v3 (i32.add (local.get $v2) (local.get $row)))
      (loop $bs
        (local.set $g0 (v128.load (local.get $gp)))
        (local.set $g1 (v128.load offset=16 (local.get $gp)))
        (local.set $s (v128.load32_splat (local.get $v0)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (local.get $g0))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (local.get $g1))))
        (local.set $s (v128.load32_splat (local.get $v1)))
        (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s) (local.get $g0))))
        (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $s) (local.get $g1))))
        (local.set $s (v128.load32_splat (local.get $v2)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s) (local.get $g0))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $s) (local.get $g1))))
        (local.set $s (v128.load32_splat (local.get $v3)))
        (local.set $d0 (f32x4.add (local.get $d0) (f32x4.mul (local.get $s) (local.get $g0))))
        (local.set $d1 (f32x4.add (local.get $d1) (f32x4.mul (local.get $s) (local.get $g1))))
        (local.set $gp (i32.add (local.get $gp) (local.get $row)))
        (local.set $v0 (i32.add (local.get $v0) (i32.const 4)))
        (local.set $v1 (i32.add (local.get $v1) (i32.const 4)))
        (local.set $v2 (i32.add (local.get $v2) (i32.const 4)))
        (local.set $v3 (i32.add (local.get $v3) (i32.const 4)))
        (br_if $bs (i32.lt_u (local.get $gp) (local.get $gend))))
      (local.set $o (i32.add (local.get $out) (local.get $c)))
      (local.set $vo (i32.add (local.get $v) (local.get $c)))
      (v128.store (local.get $o) (f32x4.add (local.get $a0) (f32x4.mul (local.get $regv) (v128.load (local.get $vo)))))
      (v128.store offset=16 (local.get $o) (f32x4.add (local.get $a1) (f32x4.mul (local.get $regv) (v128.load offset=16 (local.get $vo)))))
      (local.set $o (i32.add (local.get $o) (local.get $row)))
      (local.set $vo (i32.add (local.get $vo) (local.get $row)))
      (v128.store (local.get $o) (f32x4.add (local.get $b0) (f32x4.mul (local.get $regv) (v128.load (local.get $vo)))))
      (v128.store offset=16 (local.get $o) (f32x4.add (local.get $b1) (f32x4.mul (local.get $regv) (v128.load offset=16 (local.get $vo)))))
      (local.set $o (i32.add (local.get $o) (local.get $row)))
      (local.set $vo (i32.add (local.get $vo) (local.get $row)))
      (v128.store (local.get $o) (f32x4.add (local.get $c0) (f32x4.mul (local.get $regv) (v128.load (local.get $vo)))))
      (v128.store offset=16 (local.get $o) (f32x4.add (local.get $c1) (f32x4.mul (local.get $regv) (v128.load offset=16 (local.get $vo)))))
      (local.set $o (i32.add (local.get $o) (local.get $row)))
      (local.set $vo (i32.add (local.get $vo) (local.get $row)))
      (v128.store (local.get $o) (f32x4.add (local.get $d0) (f32x4.mul (local.get $regv) (v128.load (local.get $vo)))))
      (v128.store offset=16 (local.get $o) (f32x4.add (local.get $d1) (f32x4.mul (local.get $regv) (v128.load offset=16 (local.get $vo)))))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br_if $cols (i32.lt_u (local.get $c) (local.get $row)))))

  ;; The one-row counterpart of $dense4 (the same sums in the same order).
  (func $dense1 (param $g i32) (param $v i32) (param $out i32) (param $fp i32) (param $reg f32)
    (local $row i32) (local $c i32) (local $gp i32) (local $gend i32) (local $v0 i32)
    (local $a0 v128) (local $a1 v128) (local $s v128) (local $regv v128) (local $o i32) (local $vo i32)
    (local.set $row (i32.shl (local.get $fp) (i32.const 2)))
    (local.set $regv (f32x4.splat (local.get $reg)))
    (local.set $c (i32.const 0))
    (loop $cols
      (local.set $a0 (v128.const i32x4 0 0 0 0))
      (local.set $a1 (v128.const i32x4 0 0 0 0))
      (local.set $gp (i32.add (local.get $g) (local.get $c)))
      (local.set $gend (i32.add (local.get $gp) (i32.mul (local.get $row) (local.get $fp))))
      (local.set $v0 (local.get $v))
      (loop $bs
        (local.set $s (v128.load32_splat (local.get $v0)))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $gp)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $gp)))))
        (local.set $gp (i32.add (local.get $gp) (local.get $row)))
        (local.set $v0 (i32.add (local.get $v0) (i32.const 4)))
        (br_if $bs (i32.lt_u (local.get $gp) (local.get $gend))))
      (local.set $o (i32.add (local.get $out) (local.get $c)))
      (local.set $vo (i32.add (local.get $v) (local.get $c)))
      (v128.store (local.get $o) (f32x4.add (local.get $a0) (f32x4.mul (local.get $regv) (v128.load (local.get $vo)))))
      (v128.store offset=16 (local.get $o) (f32x4.add (local.get $a1) (f32x4.mul (local.get $regv) (v128.load offset=16 (local.get $vo)))))
      (local.set $c (i32.add (local.get $c) (i32.const 32)))
      (br_if $cols (i32.lt_u (local.get $c) (local.get $row)))))

  ;; out[j] = (G_mask(j) + reg I) v[j] for the m block rows (v, out: [m x fp]); mask(j) is the
  ;; i32 at masks + 4j, G_mask at grams + mask fp² floats. Four rows at a time when they share a mask.
  (func $dense (param $m i32) (param $fp i32) (param $reg f32) (param $grams i32) (param $masks i32) (param $v i32) (param $out i32)
    (local $j i32) (local $mask i32) (local $gsize i32) (local $row i32) (local $mp i32)
    (local.set $row (i32.shl (local.get $fp) (i32.const 2)))
    (local.set $gsize (i32.mul (local.get $row) (local.get $fp)))
    (local.set $j (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $mp (i32.add (local.get $masks) (i32.shl (local.get $j) (i32.const 2))))
        (local.set $mask (i32.load (local.get $mp)))
        (if (i32.and
              (i32.lt_u (i32.add (local.get $j) (i32.const 3)) (local.get $m))
              (i32.and
                (i32.eq (i32.load offset=4 (local.get $mp)) (local.get $mask))
                (i32.and
                  (i32.eq (i32.load offset=8 (local.get $mp)) (local.get $mask))
                  (i32.eq (i32.load offset=12 (local.get $mp)) (local.get $mask)))))
          (then
            (call $dense4
              (i32.add (local.get $grams) (i32.mul (local.get $mask) (local.get $gsize)))
              (i32.add (local.get $v) (i32.mul (local.get $j) (local.get $row)))
              (i32.add (local.get $out) (i32.mul (local.get $j) (local.get $row)))
              (local.get $fp) (local.get $reg))
            (local.set $j (i32.add (local.get $j) (i32.const 4))))
          (else
            (call $dense1
              (i32.add (local.get $grams) (i32.mul (local.get $mask) (local.get $gsize)))
              (i32.add (local.get $v) (i32.mul (local.get $j) (local.get $row)))
              (i32.add (local.get $out) (i32.mul (local.get $j) (local.get $row)))
              (local.get $fp) (local.get $reg))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))))
        (br $rows))))

;; The Gramian sums of `domainGramians` (implicit-als.ts) for rows taken four at a time, in
  ;; float64 and in the JS loop's exact order (so bit-identical to it): for each quad of rows
  ;; o0..o3 from the i32 list (count a multiple of 4), for a < f and b <= a (b in pairs, so
  ;; also b = a + 1 when a is even: an upper-triangle entry the caller overwrites),
  ;; gram[a f + b] += ((v0 y0b + v1 y1b) + v2 y2b) + v3 y3b, v_r = y_r[a], the rows' f floats
  ;; at table + o_r f 4, gram the f x f float64s at out. f must be even.
  (func (export "gramQuads") (param $list i32) (param $count i32) (param $table i32) (param $f i32) (param $out i32)
    (local $end i32) (local $row i32) (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $a i32) (local $b i32) (local $g i32) (local $bend i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $end (i32.add (local.get $list) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $row (i32.shl (local.get $f) (i32.const 2)))
    (block $done
      (loop $quads
        (br_if $done (i32.ge_u (local.get $list) (local.get $end)))
        (local.set $r0 (i32.add (local.get $table) (i32.mul (i32.load (local.get $list)) (local.get $row))))
        (local.set $r1 (i32.add (local.get $table) (i32.mul (i32.load offset=4 (local.get $list)) (local.get $row))))
        (local.set $r2 (i32.add (local.get $table) (i32.mul (i32.load offset=8 (local.get $list)) (local.get $row))))
        (local.set $r3 (i32.add (local.get $table) (i32.mul (i32.load offset=12 (local.get $list)) (local.get $row))))
        (local.set $a (i32.const 0))
        (loop $as
          (local.set $v0 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $r0) (i32.shl (local.get $a) (i32.const 2)))))))
          (local.set $v1 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $r1) (i32.shl (local.get $a) (i32.const 2)))))))
          (local.set $v2 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $r2) (i32.shl (local.get $a) (i32.const 2)))))))
          (local.set $v3 (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $r3) (i32.shl (local.get $a) (i32.const 2)))))))
          (local.set $g (i32.add (local.get $out) (i32.shl (i32.mul (local.get $a) (local.get $f)) (i32.const 3))))
          ;; b runs over [0, a] in pairs: byte offsets 0, 8, ... < 4 (a + 1)
          (local.set $bend (i32.shl (i32.add (local.get $a) (i32.const 1)) (i32.const 2)))
          (local.set $b (i32.const 0))
          (loop $bs
            (v128.store (local.get $g)
              (f64x2.add (v128.load (local.get $g))
                (f64x2.add
                  (f64x2.add
                    (f64x2.add
                      (f64x2.mul (local.get $v0) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r0) (local.get $b)))))
                      (f64x2.mul (local.get $v1) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r1) (local.get $b))))))
                    (f64x2.mul (local.get $v2) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r2) (local.get $b))))))
                  (f64x2.mul (local.get $v3) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $r3) (local.get $b))))))))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 8)))
            (br_if $bs (i32.lt_u (local.get $b) (local.get $bend))))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (br_if $as (i32.lt_u (local.get $a) (local.get $f))))
        (local.set $list (i32.add (local.get $list) (i32.const 16)))
        (br $quads))))

  ;; Σ_u x_uᵀ G(mask_u) x_u of `implicitObjective` (implicit-als.ts), in float64 and in the JS
  ;; loop's exact order (bit-identical to it): per row a, c0 / c1 sum the even / odd b < a of
  ;; G[a][b] x[b] (lanes 0 / 1), then total += (G[a][a] x[a] + 2 (c0 + c1)) x[a]. x: the users'
  ;; f floats each at x; masks: one byte per user at domains (0 = skipped); G: [4 x f x f]
  ;; float64s at grams.
  (func (export "xGx") (param $x i32) (param $domains i32) (param $users i32) (param $grams i32) (param $f i32) (result f64)
    (local $u i32) (local $mask i32) (local $base i32) (local $o i32) (local $a i32) (local $row i32) (local $b i32)
    (local $c v128) (local $c0 f64) (local $xa f64) (local $total f64)
    (local.set $u (i32.const 0))
    (block $done
      (loop $us
        (br_if $done (i32.ge_u (local.get $u) (local.get $users)))
        (local.set $mask (i32.load8_u (i32.add (local.get $domains) (local.get $u))))
        (if (local.get $mask)
          (then
            (local.set $base (i32.add (local.get $grams) (i32.shl (i32.mul (local.get $mask) (i32.mul (local.get $f) (local.get $f))) (i32.const 3))))
            (local.set $o (i32.add (local.get $x) (i32.shl (i32.mul (local.get $u) (local.get $f)) (i32.const 2))))
            (local.set $a (i32.const 0))
            (loop $as
              (local.set $xa (f64.promote_f32 (f32.load (i32.add (local.get $o) (i32.shl (local.get $a) (i32.const 2))))))
              (local.set $row (i32.add (local.get $base) (i32.shl (i32.mul (local.get $a) (local.get $f)) (i32.const 3))))
              (local.set $c (v128.const i64x2 0 0))
              (local.set $b (i32.const 0))
              (block $pairs
                (loop $bs
                  (br_if $pairs (i32.ge_u (i32.add (local.get $b) (i32.const 1)) (local.get $a)))
                  (local.set $c (f64x2.add (local.get $c)
                    (f64x2.mul
                      (v128.load (i32.add (local.get $row) (i32.shl (local.get $b) (i32.const 3))))
                      (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $o) (i32.shl (local.get $b) (i32.const 2))))))))
                  (local.set $b (i32.add (local.get $b) (i32.const 2)))
                  (br $bs)))
              (local.set $c0 (f64x2.extract_lane 0 (local.get $c)))
              (if (i32.lt_u (local.get $b) (local.get $a))
                (then
                  (local.set $c0 (f64.add (local.get $c0)
                    (f64.mul
                      (f64.load (i32.add (local.get $row) (i32.shl (local.get $b) (i32.const 3))))
                      (f64.promote_f32 (f32.load (i32.add (local.get $o) (i32.shl (local.get $b) (i32.const 2))))))))))
              (local.set $total (f64.add (local.get $total)
                (f64.mul
                  (f64.add
                    (f64.mul (f64.load (i32.add (local.get $row) (i32.shl (local.get $a) (i32.const 3)))) (local.get $xa))
                    (f64.mul (f64.const 2) (f64.add (local.get $c0) (f64x2.extract_lane 1 (local.get $c)))))
                  (local.get $xa))))
              (local.set $a (i32.add (local.get $a) (i32.const 1)))
              (br_if $as (i32.lt_u (local.get $a) (local.get $f))))))
        (local.set $u (i32.add (local.get $u) (i32.const 1)))
        (br $us)))
    (local.get $total))

  ;; Σ over the pairs k of users u in [0, users), in that order, of (1 + c_k)(1 - s)² - s², where
  ;; s = x_u · y_{cols[k]} in float64 (f32 values promoted; four running sums, lanes a mod 4,
  ;; the tail into the first; then (s0 + s1) + (s2 + s3)): the same operations in the same
  ;; order as objectiveChunk's JS loop, so the same float64 sum. x: the users' f32 rows
  ;; (stride f); offsets: users + 1 i32s indexing cols (i32) and conf (f32); table: y's f32
  ;; rows (stride f).
  (func (export "pairTerms") (param $x i32) (param $offsets i32) (param $users i32) (param $cols i32) (param $conf i32) (param $table i32) (param $f i32) (result f64)
    (local $u i32) (local $k i32) (local $kEnd i32) (local $o i32) (local $yo i32) (local $a i32)
    (local $v01 v128) (local $v23 v128) (local $s0 f64) (local $s f64) (local $oneMinus f64) (local $total f64)
    (local.set $u (i32.const 0))
    (block $done
      (loop $us
        (br_if $done (i32.ge_u (local.get $u) (local.get $users)))
        (local.set $o (i32.add (local.get $x) (i32.shl (i32.mul (local.get $u) (local.get $f)) (i32.const 2))))
        (local.set $k (i32.load (i32.add (local.get $offsets) (i32.shl (local.get $u) (i32.const 2)))))
        (local.set $kEnd (i32.load (i32.add (local.get $offsets) (i32.shl (i32.add (local.get $u) (i32.const 1)) (i32.const 2)))))
        (block $pairsDone
          (loop $ks
            (br_if $pairsDone (i32.ge_u (local.get $k) (local.get $kEnd)))
            (local.set $yo (i32.add (local.get $table)
              (i32.shl (i32.mul (i32.load (i32.add (local.get $cols) (i32.shl (local.get $k) (i32.const 2)))) (local.get $f)) (i32.const 2))))
            (local.set $v01 (v128.const i64x2 0 0))
            (local.set $v23 (v128.const i64x2 0 0))
            (local.set $a (i32.const 0))
            (block $quadsDone
              (loop $as
                (br_if $quadsDone (i32.ge_u (i32.add (local.get $a) (i32.const 3)) (local.get $f)))
                (local.set $v01 (f64x2.add (local.get $v01)
                  (f64x2.mul
                    (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $o) (i32.shl (local.get $a) (i32.const 2)))))
                    (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $yo) (i32.shl (local.get $a) (i32.const 2))))))))
                (local.set $v23 (f64x2.add (local.get $v23)
                  (f64x2.mul
                    (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $o) (i32.shl (local.get $a) (i32.const 2)))))
                    (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (i32.add (local.get $yo) (i32.shl (local.get $a) (i32.const 2))))))))
                (local.set $a (i32.add (local.get $a) (i32.const 4)))
                (br $as)))
            (local.set $s0 (f64x2.extract_lane 0 (local.get $v01)))
            (block $tailDone
              (loop $tail
                (br_if $tailDone (i32.ge_u (local.get $a) (local.get $f)))
                (local.set $s0 (f64.add (local.get $s0)
                  (f64.mul
                    (f64.promote_f32 (f32.load (i32.add (local.get $o) (i32.shl (local.get $a) (i32.const 2)))))
                    (f64.promote_f32 (f32.load (i32.add (local.get $yo) (i32.shl (local.get $a) (i32.const 2))))))))
                (local.set $a (i32.add (local.get $a) (i32.const 1)))
                (br $tail)))
            (local.set $s (f64.add
              (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $v01)))
              (f64.add (f64x2.extract_lane 0 (local.get $v23)) (f64x2.extract_lane 1 (local.get $v23)))))
            (local.set $oneMinus (f64.sub (f64.const 1) (local.get $s)))
            (local.set $total (f64.add (local.get $total)
              (f64.sub
                (f64.mul
                  (f64.mul
                    (f64.add (f64.const 1) (f64.promote_f32 (f32.load (i32.add (local.get $conf) (i32.shl (local.get $k) (i32.const 2))))))
                    (local.get $oneMinus))
                  (local.get $oneMinus))
                (f64.mul (local.get $s) (local.get $s)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $ks)))
        (local.set $u (i32.add (local.get $u) (i32.const 1)))
        (br $us)))
    (local.get $total))

  ;; Copies pair k's row of the other side's table (f floats at table + cols[k] f 4, cols the
  ;; i32s at cols) to ys + k fp 4, for k in [0, count): the block's rows of y, contiguous.
  (func (export "gather") (param $count i32) (param $cols i32) (param $table i32) (param $f i32) (param $ys i32) (param $fp i32)
    (local $end i32) (local $row i32) (local $out i32)
    (local.set $end (i32.add (local.get $cols) (i32.shl (local.get $count) (i32.const 2))))
    (local.set $row (i32.shl (local.get $f) (i32.const 2)))
    (local.set $out (i32.shl (local.get $fp) (i32.const 2)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $cols) (local.get $end)))
        (memory.copy (local.get $ys) (i32.add (local.get $table) (i32.mul (i32.load (local.get $cols)) (local.get $row))) (local.get $row))
        (local.set $ys (i32.add (local.get $ys) (local.get $out)))
        (local.set $cols (i32.add (local.get $cols) (i32.const 4)))
        (br $l))))

  ;; `steps` conjugate-gradient steps on the m rows of a block, warm-started from X (all [m x fp]
  ;; floats): A_j = G_mask(j) + reg I + Σ_k c_k y_k y_kᵀ, b_j = Σ_k (1 + c_k) y_k over the
  ;; row's pairs k in [pairs[j], pairs[j + 1]) (i32s), c_k the f32 at conf + 4k, y_k the
  ;; [fp] floats at ys + k fp 4. X is left holding the solutions; rr (f32) and live (i32)
  ;; are per-row scratch, R, P, AP [m x fp] floats.
  (func (export "cg") (param $m i32) (param $fp i32) (param $steps i32) (param $reg f32)
    (param $grams i32) (param $masks i32) (param $pairs i32) (param $conf i32) (param $ys i32)
    (param $x i32) (param $r i32) (param $p i32) (param $ap i32) (param $rr i32) (param $live i32)
    (local $row i32) (local $j i32) (local $o i32) (local $k i32) (local $kend i32) (local $yo i32)
    (local $c f32) (local $sum f32) (local $step i32) (local $any i32) (local $pap f32)
    (local $alpha v128) (local $beta v128) (local $next f32) (local $i i32) (local $end i32)
    (local.set $row (i32.shl (local.get $fp) (i32.const 2)))
    ;; R = Σ (1 + c - c (y·x)) y - (G + λI) x; P = R; rr = R·R.
    (call $dense (local.get $m) (local.get $fp) (local.get $reg) (local.get $grams) (local.get $masks) (local.get $x) (local.get $ap))
    (local.set $j (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $j) (local.get $m)))
        (local.set $o (i32.mul (local.get $j) (local.get $row)))
        (local.set $i (i32.add (local.get $r) (local.get $o)))
        (local.set $end (i32.add (local.get $i) (local.get $row)))
        (local.set $yo (i32.add (local.get $ap) (local.get $o)))
        (loop $neg
          (v128.store (local.get $i) (f32x4.neg (v128.load (local.get $yo))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (local.set $yo (i32.add (local.get $yo) (i32.const 16)))
          (br_if $neg (i32.lt_u (local.get $i) (local.get $end))))
        (local.set $k (i32.load (i32.add (local.get $pairs) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $kend (i32.load offset=4 (i32.add (local.get $pairs) (i32.shl (local.get $j) (i32.const 2)))))
        (block $pdone
          (loop $pl
            (br_if $pdone (i32.ge_u (local.get $k) (local.get $kend)))
            (local.set $c (f32.load (i32.add (local.get $conf) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $yo (i32.add (local.get $ys) (i32.mul (local.get $k) (local.get $row))))
            (call $axpy
              (f32.sub
                (f32.add (f32.const 1) (local.get $c))
                (f32.mul (local.get $c) (call $dot (local.get $yo) (i32.add (local.get $x) (local.get $o)) (local.get $fp))))
              (local.get $yo) (i32.add (local.get $r) (local.get $o)) (local.get $fp))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $pl)))
        (memory.copy (i32.add (local.get $p) (local.get $o)) (i32.add (local.get $r) (local.get $o)) (local.get $row))
        (local.set $sum (call $dot (i32.add (local.get $r) (local.get $o)) (i32.add (local.get $r) (local.get $o)) (local.get $fp)))
        (f32.store (i32.add (local.get $rr) (i32.shl (local.get $j) (i32.const 2))) (local.get $sum))
        (i32.store (i32.add (local.get $live) (i32.shl (local.get $j) (i32.const 2))) (f32.gt (local.get $sum) (f32.const 1e-20)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows)))
    (local.set $step (i32.const 0))
    (block $stop
      (loop $steps
        (br_if $stop (i32.ge_u (local.get $step) (local.get $steps)))
        (call $dense (local.get $m) (local.get $fp) (local.get $reg) (local.get $grams) (local.get $masks) (local.get $p) (local.get $ap))
        (local.set $any (i32.const 0))
        (local.set $j (i32.const 0))
        (block $done
          (loop $rows
            (br_if $done (i32.ge_u (local.get $j) (local.get $m)))
            (if (i32.load (i32.add (local.get $live) (i32.shl (local.get $j) (i32.const 2))))
              (then
                (local.set $o (i32.mul (local.get $j) (local.get $row)))
                ;; AP += Σ c (y·p) y
                (local.set $k (i32.load (i32.add (local.get $pairs) (i32.shl (local.get $j) (i32.const 2)))))
                (local.set $kend (i32.load offset=4 (i32.add (local.get $pairs) (i32.shl (local.get $j) (i32.const 2)))))
                (block $pdone
                  (loop $pl
                    (br_if $pdone (i32.ge_u (local.get $k) (local.get $kend)))
                    (local.set $yo (i32.add (local.get $ys) (i32.mul (local.get $k) (local.get $row))))
                    (call $axpy
                      (f32.mul
                        (f32.load (i32.add (local.get $conf) (i32.shl (local.get $k) (i32.const 2))))
                        (call $dot (local.get $yo) (i32.add (local.get $p) (local.get $o)) (local.get $fp)))
                      (local.get $yo) (i32.add (local.get $ap) (local.get $o)) (local.get $fp))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $pl)))
                (local.set $pap (call $dot (i32.add (local.get $p) (local.get $o)) (i32.add (local.get $ap) (local.get $o)) (local.get $fp)))
                (if (f32.gt (local.get $pap) (f32.const 0))
                  (then
                    (local.set $sum (f32.load (i32.add (local.get $rr) (i32.shl (local.get $j) (i32.const 2)))))
                    (local.set $alpha (f32x4.splat (f32.div (local.get $sum) (local.get $pap))))
                    ;; X += alpha P; R -= alpha AP
                    (local.set $i (i32.const 0))
                    (loop $upd
                      (local.set $k (i32.add (local.get $o) (local.get $i)))
                      (v128.store (i32.add (local.get $x) (local.get $k))
                        (f32x4.add (v128.load (i32.add (local.get $x) (local.get $k))) (f32x4.mul (local.get $alpha) (v128.load (i32.add (local.get $p) (local.get $k))))))
                      (v128.store (i32.add (local.get $r) (local.get $k))
                        (f32x4.sub (v128.load (i32.add (local.get $r) (local.get $k))) (f32x4.mul (local.get $alpha) (v128.load (i32.add (local.get $ap) (local.get $k))))))
                      (local.set $i (i32.add (local.get $i) (i32.const 16)))
                      (br_if $upd (i32.lt_u (local.get $i) (local.get $row))))
                    (local.set $next (call $dot (i32.add (local.get $r) (local.get $o)) (i32.add (local.get $r) (local.get $o)) (local.get $fp)))
                    (local.set $beta (f32x4.splat (f32.div (local.get $next) (local.get $sum))))
                    ;; P = R + beta P
                    (local.set $i (i32.const 0))
                    (loop $dir
                      (local.set $k (i32.add (local.get $o) (local.get $i)))
                      (v128.store (i32.add (local.get $p) (local.get $k))
                        (f32x4.add (v128.load (i32.add (local.get $r) (local.get $k))) (f32x4.mul (local.get $beta) (v128.load (i32.add (local.get $p) (local.get $k))))))
                      (local.set $i (i32.add (local.get $i) (i32.const 16)))
                      (br_if $dir (i32.lt_u (local.get $i) (local.get $row))))
                    (f32.store (i32.add (local.get $rr) (i32.shl (local.get $j) (i32.const 2))) (local.get $next))
                    (if (f32.gt (local.get $next) (f32.const 1e-20))
                      (then (local.set $any (i32.const 1)))
                      (else (i32.store (i32.add (local.get $live) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0)))))
                  (else (i32.store (i32.add (local.get $live) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $rows)))
        (br_if $stop (i32.eqz (local.get $any)))
        (local.set $step (i32.add (local.get $step) (i32.const 1)))
        (br $steps))))
)
