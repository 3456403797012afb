;; Matrix products two values at a time (WebAssembly SIMD, f64x2): the vector twins of the scalar
;; loops in ../products.ts, which give the same bits. Matrices are row-major float64 in this
;; module's memory, pointers in bytes. WebAssembly never fuses a multiply and an add, so every step
;; rounds as the scalar loops' do.
;;
;;   rowDots(a, m, b, nb, k, out):  out[i nb + j] = a_i . b_j   (a m x k, b nb x k, out m x nb)
;;
;; Every dot product is summed in the "paired" order: lane 0 sums the products at even positions
;; and lane 1 those at odd positions, each in increasing position; a last product of an odd length
;; k is added to lane 0; the result is lane 0 + lane 1. Rows of a are taken four at a time against
;; two rows of b (eight sums of two lanes: six loads per sixteen multiply-adds), then against a last
;; row of b, then single rows of a.
;;
;;   multiply(a, m, k, b, n, c):    c = a b   (a m x k, b k x n, c m x n)
;;
;; Every entry is one sum over p = 0 .. k-1 in increasing p, from zero: the vector runs across two
;; adjacent entries of a row of c, not along the sum. Four rows of c are taken four columns at a
;; time (eight sums of two lanes: two loads of b and four of a per sixteen multiply-adds), then two
;; columns, then one; then single rows.
;;
;;   transposeRows(src, rows, n, dst, m, sums, mode):  dst[j m + r] = src[r n + j]   (r < rows, j < n)
;;
;; A block of rows (a multiple of eight) of a row-major matrix of n columns into as many consecutive
;; columns of its transpose, whose rows are m long: a column pair j, j + 1 down all the block's rows,
;; two rows at a time, the two lanes swapped across by shuffles, so each row of dst gets the block's
;; values as consecutive vector stores. With mode 1 (2) sums[j] gets the values (their squares)
;; added in row order, sums[j] + v0 + v1 + ..., the scalar loop's order: each lane of a vector runs
;; one column's chain.
;;
;; The memory is shared (a SharedArrayBuffer) so that growing it never detaches an ArrayBuffer: in V8
;; a single detached buffer anywhere in a process makes every later typed-array loop check for it
;; (measured: a Gram matrix and an eigendecomposition in plain TypeScript 35-50 % slower for the
;; rest of the process). 4096 pages of 64 KiB: the 256 MiB that ../products.ts lets a call use.
(module
  (memory (export "memory") 1 4096 shared)

  ;; ---- rowDots ----

  ;; lane 0 (+ the last product when k is odd) + lane 1, the paired order's last step
  (func $finish (param $s v128) (param $a i32) (param $b i32) (param $pairBytes i32) (param $odd i32) (result f64)
    (local $even f64)
    (local.set $even (f64x2.extract_lane 0 (local.get $s)))
    (if (local.get $odd)
      (then
        (local.set $even
          (f64.add (local.get $even)
            (f64.mul (f64.load (i32.add (local.get $a) (local.get $pairBytes)))
                     (f64.load (i32.add (local.get $b) (local.get $pairBytes))))))))
    (f64.add (local.get $even) (f64x2.extract_lane 1 (local.get $s))))

  ;; rows a0..a3 of a against rows b0, b1 of b, into out[r ldo + c] (ldo in bytes)
  (func $tile4x2 (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
        (param $b0 i32) (param $b1 i32) (param $pairBytes i32) (param $odd i32)
        (param $out i32) (param $ldo i32)
    (local $i i32) (local $u v128) (local $v v128) (local $x v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (block $done
      (br_if $done (i32.eqz (local.get $pairBytes)))
      (loop $next
        (local.set $u (v128.load (i32.add (local.get $b0) (local.get $i))))
        (local.set $v (v128.load (i32.add (local.get $b1) (local.get $i))))
        (local.set $x (v128.load (i32.add (local.get $a0) (local.get $i))))
        (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $x (v128.load (i32.add (local.get $a1) (local.get $i))))
        (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $x (v128.load (i32.add (local.get $a2) (local.get $i))))
        (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $x (v128.load (i32.add (local.get $a3) (local.get $i))))
        (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $pairBytes)))))
    (f64.store (local.get $out) (call $finish (local.get $s00) (local.get $a0) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (f64.store offset=8 (local.get $out) (call $finish (local.get $s01) (local.get $a0) (local.get $b1) (local.get $pairBytes) (local.get $odd)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (f64.store (local.get $out) (call $finish (local.get $s10) (local.get $a1) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (f64.store offset=8 (local.get $out) (call $finish (local.get $s11) (local.get $a1) (local.get $b1) (local.get $pairBytes) (local.get $odd)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (f64.store (local.get $out) (call $finish (local.get $s20) (local.get $a2) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (f64.store offset=8 (local.get $out) (call $finish (local.get $s21) (local.get $a2) (local.get $b1) (local.get $pairBytes) (local.get $odd)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (f64.store (local.get $out) (call $finish (local.get $s30) (local.get $a3) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (f64.store offset=8 (local.get $out) (call $finish (local.get $s31) (local.get $a3) (local.get $b1) (local.get $pairBytes) (local.get $odd))))

  ;; rows a0..a3 of a against row b0 of b, into out[r ldo]
  (func $tile4x1 (param $a0 i32) (param $a1 i32) (param $a2 i32) (param $a3 i32)
        (param $b0 i32) (param $pairBytes i32) (param $odd i32) (param $out i32) (param $ldo i32)
    (local $i i32) (local $u v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (block $done
      (br_if $done (i32.eqz (local.get $pairBytes)))
      (loop $next
        (local.set $u (v128.load (i32.add (local.get $b0) (local.get $i))))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (v128.load (i32.add (local.get $a0) (local.get $i))) (local.get $u))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (v128.load (i32.add (local.get $a1) (local.get $i))) (local.get $u))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul (v128.load (i32.add (local.get $a2) (local.get $i))) (local.get $u))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul (v128.load (i32.add (local.get $a3) (local.get $i))) (local.get $u))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $pairBytes)))))
    (f64.store (local.get $out) (call $finish (local.get $s0) (local.get $a0) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (f64.store (local.get $out) (call $finish (local.get $s1) (local.get $a1) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (f64.store (local.get $out) (call $finish (local.get $s2) (local.get $a2) (local.get $b0) (local.get $pairBytes) (local.get $odd)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (f64.store (local.get $out) (call $finish (local.get $s3) (local.get $a3) (local.get $b0) (local.get $pairBytes) (local.get $odd))))

  ;; one row of a against one row of b
  (func $dot (param $a i32) (param $b i32) (param $pairBytes i32) (param $odd i32) (result f64)
    (local $i i32) (local $s v128)
    (block $done
      (br_if $done (i32.eqz (local.get $pairBytes)))
      (loop $next
        (local.set $s (f64x2.add (local.get $s)
          (f64x2.mul (v128.load (i32.add (local.get $a) (local.get $i))) (v128.load (i32.add (local.get $b) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $pairBytes)))))
    (call $finish (local.get $s) (local.get $a) (local.get $b) (local.get $pairBytes) (local.get $odd)))

  (func (export "rowDots") (param $a i32) (param $m i32) (param $b i32) (param $nb i32) (param $k i32) (param $out i32)
    (local $rowBytes i32) (local $pairBytes i32) (local $odd i32) (local $ldo i32)
    (local $r i32) (local $j i32) (local $a0 i32) (local $bj i32) (local $o i32)
    (local.set $rowBytes (i32.shl (local.get $k) (i32.const 3)))
    (local.set $pairBytes (i32.shl (i32.and (local.get $k) (i32.const -2)) (i32.const 3)))
    (local.set $odd (i32.and (local.get $k) (i32.const 1)))
    (local.set $ldo (i32.shl (local.get $nb) (i32.const 3)))
    ;; four rows of a at a time
    (block $quadsDone
      (loop $quads
        (br_if $quadsDone (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $m)))
        (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $ldo))))
        (local.set $bj (local.get $b))
        (local.set $j (i32.const 0))
        (block $pairsDone
          (loop $pairs
            (br_if $pairsDone (i32.gt_u (i32.add (local.get $j) (i32.const 2)) (local.get $nb)))
            (call $tile4x2
              (local.get $a0)
              (i32.add (local.get $a0) (local.get $rowBytes))
              (i32.add (local.get $a0) (i32.shl (local.get $rowBytes) (i32.const 1)))
              (i32.add (local.get $a0) (i32.mul (local.get $rowBytes) (i32.const 3)))
              (local.get $bj) (i32.add (local.get $bj) (local.get $rowBytes))
              (local.get $pairBytes) (local.get $odd) (local.get $o) (local.get $ldo))
            (local.set $bj (i32.add (local.get $bj) (i32.shl (local.get $rowBytes) (i32.const 1))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $pairs)))
        (if (i32.lt_u (local.get $j) (local.get $nb))
          (then
            (call $tile4x1
              (local.get $a0)
              (i32.add (local.get $a0) (local.get $rowBytes))
              (i32.add (local.get $a0) (i32.shl (local.get $rowBytes) (i32.const 1)))
              (i32.add (local.get $a0) (i32.mul (local.get $rowBytes) (i32.const 3)))
              (local.get $bj) (local.get $pairBytes) (local.get $odd) (local.get $o) (local.get $ldo))))
        (local.set $r (i32.add (local.get $r) (i32.const 4)))
        (br $quads)))
    ;; the last rows of a, one at a time
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $m)))
        (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $ldo))))
        (local.set $bj (local.get $b))
        (local.set $j (i32.const 0))
        (block $colsDone
          (loop $cols
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $nb)))
            (f64.store (local.get $o) (call $dot (local.get $a0) (local.get $bj) (local.get $pairBytes) (local.get $odd)))
            (local.set $bj (i32.add (local.get $bj) (local.get $rowBytes)))
            (local.set $o (i32.add (local.get $o) (i32.const 8)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

;; ---- multiply ----

  ;; rows a0.. of a (four, row stride k) times columns j..j+3 of b (row stride ldb) into c (row stride ldc)
  (func $mul4x4 (param $a i32) (param $k i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
    (local $ka i32) (local $p i32) (local $end i32) (local $u v128) (local $v v128) (local $x v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    (local.set $ka (i32.shl (local.get $k) (i32.const 3)))
    (local.set $end (i32.add (local.get $a) (local.get $ka)))
    (local.set $p (local.get $a))
    (block $done
      (br_if $done (i32.eqz (local.get $k)))
      (loop $next
        (local.set $u (v128.load (local.get $b)))
        (local.set $v (v128.load offset=16 (local.get $b)))
        (local.set $x (f64x2.splat (f64.load (local.get $p))))
        (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $x (f64x2.splat (f64.load (i32.add (local.get $p) (local.get $ka)))))
        (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $x (f64x2.splat (f64.load (i32.add (local.get $p) (i32.shl (local.get $ka) (i32.const 1))))))
        (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $x (f64x2.splat (f64.load (i32.add (local.get $p) (i32.mul (local.get $ka) (i32.const 3))))))
        (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $x) (local.get $u))))
        (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $x) (local.get $v))))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br_if $next (i32.lt_u (local.get $p) (local.get $end)))))
    (v128.store (local.get $c) (local.get $s00))
    (v128.store offset=16 (local.get $c) (local.get $s01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $s10))
    (v128.store offset=16 (local.get $c) (local.get $s11))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $s20))
    (v128.store offset=16 (local.get $c) (local.get $s21))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $s30))
    (v128.store offset=16 (local.get $c) (local.get $s31)))

  ;; `rows` rows of a (1 to 4) times columns j, j+1 of b: one sum of two lanes a row
  (func $mulRowsx2 (param $a i32) (param $rows i32) (param $k i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
    (local $r i32) (local $p i32) (local $end i32) (local $bp i32) (local $s v128)
    (loop $row
      (local.set $s (v128.const f64x2 0 0))
      (local.set $p (i32.add (local.get $a) (i32.mul (local.get $r) (i32.shl (local.get $k) (i32.const 3)))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 3))))
      (local.set $bp (local.get $b))
      (block $done
        (br_if $done (i32.eqz (local.get $k)))
        (loop $next
          (local.set $s (f64x2.add (local.get $s) (f64x2.mul (f64x2.splat (f64.load (local.get $p))) (v128.load (local.get $bp)))))
          (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (br_if $next (i32.lt_u (local.get $p) (local.get $end)))))
      (v128.store (i32.add (local.get $c) (i32.mul (local.get $r) (local.get $ldc))) (local.get $s))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $row (i32.lt_u (local.get $r) (local.get $rows)))))

  ;; `rows` rows of a (1 to 4) times column j of b
  (func $mulRowsx1 (param $a i32) (param $rows i32) (param $k i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
    (local $r i32) (local $p i32) (local $end i32) (local $bp i32) (local $s f64)
    (loop $row
      (local.set $s (f64.const 0))
      (local.set $p (i32.add (local.get $a) (i32.mul (local.get $r) (i32.shl (local.get $k) (i32.const 3)))))
      (local.set $end (i32.add (local.get $p) (i32.shl (local.get $k) (i32.const 3))))
      (local.set $bp (local.get $b))
      (block $done
        (br_if $done (i32.eqz (local.get $k)))
        (loop $next
          (local.set $s (f64.add (local.get $s) (f64.mul (f64.load (local.get $p)) (f64.load (local.get $bp)))))
          (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
          (local.set $p (i32.add (local.get $p) (i32.const 8)))
          (br_if $next (i32.lt_u (local.get $p) (local.get $end)))))
      (f64.store (i32.add (local.get $c) (i32.mul (local.get $r) (local.get $ldc))) (local.get $s))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $row (i32.lt_u (local.get $r) (local.get $rows)))))

  ;; ---- transposeRows8 ----

  ;; sums[j] += src[0 n + j] + src[1 n + j] + ... (mode 1), or their squares (mode 2), in row order:
  ;; eight columns at a time (four vectors, four chains of additions in flight), then pairs, then
  ;; an odd last column.
  (func $columnSums (param $src i32) (param $rows i32) (param $n i32) (param $sums i32) (param $mode i32)
    (local $j i32) (local $ld i32) (local $r i32) (local $s i32) (local $q i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $x f64) (local $e f64)
    (local.set $ld (i32.shl (local.get $n) (i32.const 3)))
    (block $octetsDone
      (loop $octets
        (br_if $octetsDone (i32.gt_u (i32.add (local.get $j) (i32.const 8)) (local.get $n)))
        (local.set $q (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $a0 (v128.load offset=0 (local.get $q)))
        (local.set $a1 (v128.load offset=16 (local.get $q)))
        (local.set $a2 (v128.load offset=32 (local.get $q)))
        (local.set $a3 (v128.load offset=48 (local.get $q)))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $r (i32.const 0))
        (loop $rows
          (local.set $v0 (v128.load offset=0 (local.get $s)))
          (local.set $v1 (v128.load offset=16 (local.get $s)))
          (local.set $v2 (v128.load offset=32 (local.get $s)))
          (local.set $v3 (v128.load offset=48 (local.get $s)))
          (if (i32.eq (local.get $mode) (i32.const 2))
            (then
              (local.set $v0 (f64x2.mul (local.get $v0) (local.get $v0)))
              (local.set $v1 (f64x2.mul (local.get $v1) (local.get $v1)))
              (local.set $v2 (f64x2.mul (local.get $v2) (local.get $v2)))
              (local.set $v3 (f64x2.mul (local.get $v3) (local.get $v3)))))
          (local.set $a0 (f64x2.add (local.get $a0) (local.get $v0)))
          (local.set $a1 (f64x2.add (local.get $a1) (local.get $v1)))
          (local.set $a2 (f64x2.add (local.get $a2) (local.get $v2)))
          (local.set $a3 (f64x2.add (local.get $a3) (local.get $v3)))
          (local.set $s (i32.add (local.get $s) (local.get $ld)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $rows (i32.lt_u (local.get $r) (local.get $rows))))
        (v128.store offset=0 (local.get $q) (local.get $a0))
        (v128.store offset=16 (local.get $q) (local.get $a1))
        (v128.store offset=32 (local.get $q) (local.get $a2))
        (v128.store offset=48 (local.get $q) (local.get $a3))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $octets)))
    ;; the last columns one at a time
    (block $restDone
      (loop $rest
        (br_if $restDone (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $q (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $e (f64.load (local.get $q)))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $r (i32.const 0))
        (loop $column
          (local.set $x (f64.load (local.get $s)))
          (if (i32.eq (local.get $mode) (i32.const 2)) (then (local.set $x (f64.mul (local.get $x) (local.get $x)))))
          (local.set $e (f64.add (local.get $e) (local.get $x)))
          (local.set $s (i32.add (local.get $s) (local.get $ld)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $column (i32.lt_u (local.get $r) (local.get $rows))))
        (f64.store (local.get $q) (local.get $e))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rest))))

  (func (export "transposeRows") (param $src i32) (param $rows i32) (param $n i32) (param $dst i32) (param $m i32) (param $sums i32) (param $mode i32)
    (call $transposeBlock (local.get $src) (local.get $rows) (local.get $n) (local.get $dst) (local.get $m))
    (if (local.get $mode)
      (then (call $columnSums (local.get $src) (local.get $rows) (local.get $n) (local.get $sums) (local.get $mode)))))

  (func $transposeBlock (param $src i32) (param $rows i32) (param $n i32) (param $dst i32) (param $m i32)
    (local $j i32) (local $ld i32) (local $lo i32) (local $g i32) (local $s i32) (local $d i32) (local $r i32) (local $x f64)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $v4 v128) (local $v5 v128) (local $v6 v128) (local $v7 v128)
    (local.set $ld (i32.shl (local.get $n) (i32.const 3)))
    (local.set $lo (i32.shl (local.get $m) (i32.const 3)))
    (block $pairsDone
      (loop $pairs
        (br_if $pairsDone (i32.gt_u (i32.add (local.get $j) (i32.const 2)) (local.get $n)))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $j) (local.get $lo))))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $g (i32.const 0))
        (loop $groups
          (local.set $v0 (v128.load (local.get $s)))
          (local.set $v1 (v128.load (i32.add (local.get $s) (local.get $ld))))
          (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ld) (i32.const 1))))
          (local.set $v2 (v128.load (local.get $s)))
          (local.set $v3 (v128.load (i32.add (local.get $s) (local.get $ld))))
          (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ld) (i32.const 1))))
          (local.set $v4 (v128.load (local.get $s)))
          (local.set $v5 (v128.load (i32.add (local.get $s) (local.get $ld))))
          (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ld) (i32.const 1))))
          (local.set $v6 (v128.load (local.get $s)))
          (local.set $v7 (v128.load (i32.add (local.get $s) (local.get $ld))))
          (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ld) (i32.const 1))))
          ;; row j of dst: the first lanes; row j + 1: the second lanes
          (v128.store offset=0 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v0) (local.get $v1)))
          (v128.store offset=16 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v2) (local.get $v3)))
          (v128.store offset=32 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v4) (local.get $v5)))
          (v128.store offset=48 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $v6) (local.get $v7)))
          (v128.store offset=0 (i32.add (local.get $d) (local.get $lo)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v0) (local.get $v1)))
          (v128.store offset=16 (i32.add (local.get $d) (local.get $lo)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v2) (local.get $v3)))
          (v128.store offset=32 (i32.add (local.get $d) (local.get $lo)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v4) (local.get $v5)))
          (v128.store offset=48 (i32.add (local.get $d) (local.get $lo)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $v6) (local.get $v7)))
          (local.set $d (i32.add (local.get $d) (i32.const 64)))
          (local.set $g (i32.add (local.get $g) (i32.const 8)))
          (br_if $groups (i32.lt_u (local.get $g) (local.get $rows))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
    ;; an odd last column, a value at a time
    (if (i32.lt_u (local.get $j) (local.get $n))
      (then
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 3))))
        (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $j) (local.get $lo))))
        (local.set $r (i32.const 0))
        (loop $column
          (local.set $x (f64.load (i32.add (local.get $s) (i32.mul (local.get $r) (local.get $ld)))))
          (f64.store (i32.add (local.get $d) (i32.shl (local.get $r) (i32.const 3))) (local.get $x))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $column (i32.lt_u (local.get $r) (local.get $rows)))))))

  (func (export "multiply") (param $a i32) (param $m i32) (param $k i32) (param $b i32) (param $n i32) (param $c i32)
    (local $ldb i32) (local $r i32) (local $rows i32) (local $j i32) (local $ar i32) (local $cr i32)
    (local.set $ldb (i32.shl (local.get $n) (i32.const 3)))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.ge_u (local.get $r) (local.get $m)))
        (local.set $rows (select (i32.const 4) (i32.sub (local.get $m) (local.get $r))
                                 (i32.le_u (i32.add (local.get $r) (i32.const 4)) (local.get $m))))
        (local.set $ar (i32.add (local.get $a) (i32.mul (local.get $r) (i32.shl (local.get $k) (i32.const 3)))))
        (local.set $cr (i32.add (local.get $c) (i32.mul (local.get $r) (local.get $ldb))))
        (local.set $j (i32.const 0))
        (if (i32.eq (local.get $rows) (i32.const 4))
          (then
            (block $quadsDone
              (loop $quads
                (br_if $quadsDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $n)))
                (call $mul4x4 (local.get $ar) (local.get $k)
                  (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))) (local.get $ldb)
                  (i32.add (local.get $cr) (i32.shl (local.get $j) (i32.const 3))) (local.get $ldb))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $quads)))))
        (block $pairsDone
          (loop $pairs
            (br_if $pairsDone (i32.gt_u (i32.add (local.get $j) (i32.const 2)) (local.get $n)))
            (call $mulRowsx2 (local.get $ar) (local.get $rows) (local.get $k)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))) (local.get $ldb)
              (i32.add (local.get $cr) (i32.shl (local.get $j) (i32.const 3))) (local.get $ldb))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $pairs)))
        (if (i32.lt_u (local.get $j) (local.get $n))
          (then
            (call $mulRowsx1 (local.get $ar) (local.get $rows) (local.get $k)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))) (local.get $ldb)
              (i32.add (local.get $cr) (i32.shl (local.get $j) (i32.const 3))) (local.get $ldb))))
        (local.set $r (i32.add (local.get $r) (local.get $rows)))
        (br $blocks))))
)
