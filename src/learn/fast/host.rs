//! Host helpers shared by the flex kernels: contiguous `f32` views of [`FlexTensor`]s and
//! rayon loops over fixed-size chunks (element-wise, so the thread count never changes a bit).

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Shape, TensorData};
use rayon::prelude::*;

/// Elements per rayon task in element-wise loops.
pub const CHUNK: usize = 1 << 14;

/// `tensor` as a contiguous `f32` tensor whose data starts at offset 0 (copies only if needed).
pub fn contiguous(tensor: FlexTensor) -> FlexTensor {
    assert_eq!(tensor.dtype(), DType::F32, "fast ops take f32 tensors");
    match tensor.layout().contiguous_offsets() {
        Some((0, _)) => tensor,
        _ => tensor.to_contiguous(),
    }
}

/// The logical elements of a contiguous, offset-0 `f32` tensor.
pub fn values(tensor: &FlexTensor) -> &[f32] {
    let n = tensor.layout().num_elements();
    &tensor.storage::<f32>()[..n]
}

/// A new contiguous `f32` tensor from owned values.
pub fn from_vec(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The dimensions of a rank-4 tensor.
pub fn dims4(tensor: &FlexTensor) -> [usize; 4] {
    let shape = tensor.layout().shape();
    assert_eq!(shape.num_dims(), 4, "expected a rank-4 tensor");
    [shape[0], shape[1], shape[2], shape[3]]
}

/// Maps `f` over the elements of `x`, in place when `x` owns its storage.
pub fn map(x: FlexTensor, f: impl Fn(f32) -> f32 + Sync) -> FlexTensor {
    let mut x = contiguous(x);
    let n = x.layout().num_elements();
    if let Some(storage) = x.try_storage_mut::<f32>() {
        storage[..n]
            .par_chunks_mut(CHUNK)
            .for_each(|c| c.iter_mut().for_each(|v| *v = f(*v)));
        return x;
    }
    let out = values(&x)
        .par_chunks(CHUNK)
        .flat_map_iter(|c| c.iter().map(|&v| f(v)))
        .collect();
    from_vec(out, x.layout().shape().clone())
}

/// `f(a_i, b_i)` for two tensors of the same shape, written into `b` when it owns its storage.
pub fn zip_map(a: FlexTensor, b: FlexTensor, f: impl Fn(f32, f32) -> f32 + Sync) -> FlexTensor {
    let a = contiguous(a);
    let mut b = contiguous(b);
    let n = a.layout().num_elements();
    assert_eq!(
        n,
        b.layout().num_elements(),
        "zip_map: element counts differ"
    );
    let av = values(&a);
    if let Some(storage) = b.try_storage_mut::<f32>() {
        storage[..n]
            .par_chunks_mut(CHUNK)
            .zip(av.par_chunks(CHUNK))
            .for_each(|(bc, ac)| bc.iter_mut().zip(ac).for_each(|(y, &x)| *y = f(x, *y)));
        return b;
    }
    let out = av
        .par_chunks(CHUNK)
        .zip(values(&b).par_chunks(CHUNK))
        .flat_map_iter(|(ac, bc)| {
            ac.iter()
                .zip(bc)
                .map(|(&x, &y)| f(x, y))
                .collect::<Vec<_>>()
        })
        .collect();
    from_vec(out, b.layout().shape().clone())
}
