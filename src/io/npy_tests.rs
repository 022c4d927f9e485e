use super::*;
use ndarray::{Array, Array0, Array1, Array3, Ix2, arr2};
use std::fmt::Debug;

fn to_bytes<T: NpyElement, D: Dimension>(a: &Array<T, D>) -> Vec<u8> {
    let mut out = Vec::new();
    write_npy_to(&mut out, a).unwrap();
    out
}

fn from_bytes<T: NpyElement>(bytes: &[u8]) -> Result<ArrayD<T>, NpyError> {
    read_npy_from(&mut &bytes[..])
}

/// Writes 0-d, 1-d and 3-d arrays of `T` built from `make`, checks the header is aligned and
/// that reading gives the same shape and elements.
fn round_trip<T: NpyElement + PartialEq + Debug>(make: impl Fn(usize) -> T) {
    let zero_d: Array0<T> = Array0::from_elem((), make(7));
    let one_d: Array1<T> = Array1::from_shape_fn(5, &make);
    let three_d: Array3<T> = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| make(12 * i + 4 * j + k));
    let empty: Array1<T> = Array1::from_shape_fn(0, &make);
    for a in [
        zero_d.into_dyn(),
        one_d.into_dyn(),
        three_d.into_dyn(),
        empty.into_dyn(),
    ] {
        let bytes = to_bytes(&a);
        let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + a.len() * T::SIZE);
        assert_eq!(from_bytes::<T>(&bytes).unwrap(), a);
    }
}

#[test]
fn every_dtype_round_trips_in_0d_1d_3d_and_empty_shapes() {
    round_trip(|i| i as f32 * 0.5 - 3.25);
    round_trip(|i| (i as f64).sqrt() * -1e-300);
    round_trip(|i| i as i32 * -7919 + i32::MAX / 2);
    round_trip(|i| (i as i64 - 3) * 1_000_000_007_000);
    round_trip(|i| (i * 37 % 256) as u8);
    round_trip(|i| (i * 2311 % 65536) as u16);
    round_trip(|i| (i as u32).wrapping_mul(2_654_435_761));
    round_trip(|i| i % 3 == 0);
}

#[test]
fn special_floats_round_trip_bit_for_bit() {
    let a = ndarray::arr1(&[f64::NAN, f64::INFINITY, -0.0, f64::MIN_POSITIVE / 2.0]);
    let back = from_bytes::<f64>(&to_bytes(&a)).unwrap();
    let bits = |x: &f64| x.to_bits();
    assert_eq!(
        back.iter().map(bits).collect::<Vec<_>>(),
        a.iter().map(bits).collect::<Vec<_>>()
    );
}

/// The exact bytes `np.save` writes for `np.arange(6.0).reshape(2, 3)`.
fn numpy_2x3_f64() -> Vec<u8> {
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
    // 10-byte prefix + 118-byte header = 128: dict (59), spaces to byte 117, '\n'.
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&118u16.to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.extend_from_slice(" ".repeat(117 - dict.len()).as_bytes());
    bytes.push(b'\n');
    for v in 0..6 {
        bytes.extend_from_slice(&f64::from(v).to_le_bytes());
    }
    bytes
}

#[test]
fn header_is_byte_identical_to_numpy() {
    let expected = numpy_2x3_f64();
    assert_eq!(expected.len(), 128 + 48);
    let a = arr2(&[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]);
    assert_eq!(to_bytes(&a), expected);
    // A transposed view is written in logical order.
    let t = arr2(&[[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]);
    let mut via_view = Vec::new();
    write_npy_to(&mut via_view, &t.t()).unwrap();
    assert_eq!(via_view, expected);
    let back = from_bytes::<f64>(&expected).unwrap();
    assert_eq!(back.shape(), &[2, 3]);
    assert_eq!(back[[1, 2]], 5.0);
}

#[test]
fn header_lengths_follow_numpy_padding() {
    // 0-d: no growth spaces; 1-d: (5,); a header that is exactly aligned gets a full 64 more.
    let zero_d = to_bytes(&Array0::from_elem((), 1u8));
    // dict (55) + '\n' + prefix (10) = 66 → padded to 128.
    let text = String::from_utf8_lossy(&zero_d[10..128]).into_owned();
    assert!(text.starts_with("{'descr': '|u1', 'fortran_order': False, 'shape': (), }  "));
    assert_eq!(zero_d.len(), 128 + 1);
    let one_d = to_bytes(&Array1::<bool>::from_elem(5, true));
    let text = String::from_utf8_lossy(&one_d[10..128]).into_owned();
    assert!(text.starts_with("{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }"));
    assert!(text.ends_with(" \n"));
    // Shape (1,)*13 + (100,): dict + growth spaces = 117 bytes, so 10 + 117 + 1 = 128 is already
    // aligned and NumPy's `_wrap_header` still adds 64 bytes of padding.
    let mut shape = vec![1usize; 13];
    shape.push(100);
    assert_eq!(header_dict("<f8", &shape).len(), 117);
    assert_eq!(preamble("<f8", &shape).len(), 128 + 64);
}

#[test]
fn reads_version_2_and_other_writers_spellings() {
    let dict = "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i4\"}";
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    let header_len = 128 - 12;
    bytes.extend_from_slice(&(header_len as u32).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.extend_from_slice(" ".repeat(header_len - 1 - dict.len()).as_bytes());
    bytes.push(b'\n');
    for v in [-1i32, 0, 7] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let a = from_bytes::<i32>(&bytes).unwrap();
    assert_eq!(a.as_slice().unwrap(), &[-1, 0, 7]);
}

#[test]
fn fortran_order_is_rejected_with_a_clear_error() {
    let mut bytes = numpy_2x3_f64();
    let text = b"'fortran_order': False";
    let at = bytes.windows(text.len()).position(|w| w == text).unwrap();
    bytes.splice(
        at..at + text.len(),
        b"'fortran_order': True ".iter().copied(),
    );
    let err = from_bytes::<f64>(&bytes).unwrap_err();
    assert!(matches!(err, NpyError::FortranOrder));
    let msg = err.to_string();
    assert!(
        msg.contains("Fortran") && msg.contains("np.ascontiguousarray"),
        "{msg}"
    );
}

#[test]
fn wrong_dtype_says_expected_and_found() {
    let err = from_bytes::<f32>(&numpy_2x3_f64()).unwrap_err();
    assert!(matches!(&err, NpyError::WrongDtype { expected: "<f4", found, .. } if found == "<f8"));
    assert_eq!(
        err.to_string(),
        "wrong dtype: expected '<f4' (f32), found '<f8'"
    );
    let big_endian = numpy_2x3_f64()
        .iter()
        .map(|&b| if b == b'<' { b'>' } else { b })
        .collect::<Vec<_>>();
    assert!(matches!(
        from_bytes::<f64>(&big_endian),
        Err(NpyError::WrongDtype { found, .. }) if found == ">f8"
    ));
}

#[test]
fn wrong_dimensionality_says_expected_and_found() {
    let a = from_bytes::<f64>(&numpy_2x3_f64()).unwrap();
    let err = into_dimensionality::<f64, ndarray::Ix3>(a.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "wrong number of dimensions: expected 3, found 2 (shape [2, 3])"
    );
    assert_eq!(into_dimensionality::<f64, Ix2>(a).unwrap().dim(), (2, 3));
}

#[test]
fn shapes_no_array_can_have_are_errors_not_panics() {
    for shape in [
        vec![0, 1usize << 63],
        vec![0, usize::MAX, 2],
        vec![1usize << 62, 0, 4],
    ] {
        let bytes = preamble("<f8", &shape);
        match from_bytes::<f64>(&bytes) {
            Err(NpyError::CorruptHeader { reason, .. }) => {
                assert!(reason.contains(&format!("{shape:?}")), "{reason}")
            }
            other => panic!("shape {shape:?}: {other:?}"),
        }
    }
}

#[test]
fn corrupt_input_is_reported() {
    let good = numpy_2x3_f64();
    let truncated = &good[..good.len() - 3];
    assert!(matches!(
        from_bytes::<f64>(truncated),
        Err(NpyError::DataLength {
            expected: 48,
            found: 45,
            ..
        })
    ));
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0; 5]);
    assert!(matches!(
        from_bytes::<f64>(&trailing),
        Err(NpyError::DataLength {
            expected: 48,
            found: 53,
            ..
        })
    ));
    let mut magic = good.clone();
    magic[1] = b'X';
    assert!(matches!(
        from_bytes::<f64>(&magic),
        Err(NpyError::BadMagic { .. })
    ));
    let mut version = good.clone();
    version[6] = 4;
    assert!(matches!(
        from_bytes::<f64>(&version),
        Err(NpyError::UnsupportedVersion { major: 4, minor: 0 })
    ));
    let mut garbled = good.clone();
    garbled[60] = b'#'; // inside "(2, 3)"
    assert!(matches!(
        from_bytes::<f64>(&garbled),
        Err(NpyError::CorruptHeader { .. })
    ));
    let mut unbraced = good.clone();
    unbraced[10] = b' ';
    assert!(matches!(
        from_bytes::<f64>(&unbraced),
        Err(NpyError::CorruptHeader { .. })
    ));
    assert!(matches!(
        from_bytes::<f64>(&good[..20]),
        Err(NpyError::CorruptHeader { .. })
    ));
    assert!(matches!(
        from_bytes::<f64>(&good[..4]),
        Err(NpyError::Io(_))
    ));
    let mut bad_bool = to_bytes(&Array1::from_elem(3, true));
    let last = bad_bool.len() - 1;
    bad_bool[last] = 2;
    assert!(matches!(
        from_bytes::<bool>(&bad_bool),
        Err(NpyError::InvalidBool { index: 2, byte: 2 })
    ));
}

#[test]
fn file_functions_round_trip_and_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map.npy");
    let a = Array::from_shape_fn((4, 3), |(i, j)| (10 * i + j) as u16);
    write_npy(&path, &a).unwrap();
    assert_eq!(read_npy_nd::<u16, Ix2>(&path).unwrap(), a);
    let missing = dir.path().join("missing.npy");
    let msg = read_npy::<u16>(&missing).unwrap_err().to_string();
    assert!(
        msg.starts_with("cannot open") && msg.contains("missing.npy"),
        "{msg}"
    );
}
