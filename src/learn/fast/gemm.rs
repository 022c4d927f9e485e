//! Row-major `f32` matrix products on host slices through the `gemm` crate (the kernels
//! burn-flex itself uses), with optional transposition of either operand.

/// A row-major matrix operand, possibly read transposed.
#[derive(Debug, Clone, Copy)]
pub struct Operand<'a> {
    /// Row-major storage of the matrix as stored (`rows × cols`).
    pub data: &'a [f32],
    /// Rows of the stored matrix.
    pub rows: usize,
    /// Columns of the stored matrix.
    pub cols: usize,
    /// Use the transpose of the stored matrix.
    pub transposed: bool,
}

impl Operand<'_> {
    /// (rows, cols) of the operand as used in the product.
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// (row stride, column stride) of the operand as used in the product.
    fn strides(&self) -> (isize, isize) {
        let (rs, cs) = (self.cols as isize, 1isize);
        if self.transposed { (cs, rs) } else { (rs, cs) }
    }
}

/// `lhs × rhs` as a new row-major matrix. Panics if the inner dimensions differ.
pub fn matmul(lhs: Operand<'_>, rhs: Operand<'_>) -> Vec<f32> {
    let (m, k) = lhs.shape();
    let (k2, n) = rhs.shape();
    assert_eq!(k, k2, "matmul: inner dimensions differ");
    assert_eq!(lhs.data.len(), lhs.rows * lhs.cols, "matmul: lhs size");
    assert_eq!(rhs.data.len(), rhs.rows * rhs.cols, "matmul: rhs size");
    let mut dst = vec![0.0f32; m * n];
    if m == 0 || n == 0 || k == 0 {
        return dst;
    }
    let (lrs, lcs) = lhs.strides();
    let (rrs, rcs) = rhs.strides();
    let parallelism = if rayon::current_num_threads() > 1 && m * n * k >= 1 << 18 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every pointer covers its matrix: dst is m×n row-major (rs n, cs 1); lhs and rhs
    // were checked to hold rows×cols elements and their strides address only those.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.data.as_ptr(),
            lcs,
            lrs,
            rhs.data.as_ptr(),
            rcs,
            rrs,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    dst
}
