//! NumPy `.npy` files: write format 1.0 (2.0 only if the header would not fit), read 1.0/2.0/3.0.
//!
//! Little-endian, C order only; dtypes `f32 f64 i32 i64 u8 u16 u32 bool` (see [`NpyElement`]).
//! Headers are written byte for byte as recent `np.save` writes them: the dictionary, then
//! the spare spaces NumPy reserves to grow the first axis in place (`GROWTH_AXIS_MAX_DIGITS`),
//! and space padding up to a final `\n` so that the data starts at a multiple of 64 bytes.

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Errors reading or writing `.npy` data.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// Opening, reading or writing a file failed.
    #[error("cannot {action} `{path}`: {source}")]
    File {
        /// What was being done ("open", "read", "create", "write").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The contents of a file are not a valid `.npy` array (names the file).
    #[error("`{path}`: {source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: Box<NpyError>,
    },
    /// Reading from or writing to a stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The stream does not start with `\x93NUMPY`.
    #[error("not a .npy file: expected magic bytes \\x93NUMPY, found {found:?}")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A format version other than 1.0, 2.0, 3.0.
    #[error("unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)")]
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The header dictionary is malformed.
    #[error("corrupt .npy header: {reason} (header: {header:?})")]
    CorruptHeader {
        /// What is wrong.
        reason: String,
        /// The header text as found.
        header: String,
    },
    /// The file holds another element type than requested.
    #[error("wrong dtype: expected '{expected}' ({rust_type}), found '{found}'")]
    WrongDtype {
        /// Descriptor of the requested type.
        expected: &'static str,
        /// The requested Rust type.
        rust_type: &'static str,
        /// Descriptor in the file.
        found: String,
    },
    /// The array is stored in Fortran (column-major) order.
    #[error(
        "Fortran-order (column-major) .npy arrays are not supported: expected \
         'fortran_order': False, found True; save with np.save(path, np.ascontiguousarray(a))"
    )]
    FortranOrder,
    /// The array has another number of dimensions than requested.
    #[error("wrong number of dimensions: expected {expected}, found {found} (shape {shape:?})")]
    WrongDimensionality {
        /// Requested number of dimensions.
        expected: usize,
        /// Number in the file.
        found: usize,
        /// Shape in the file.
        shape: Vec<usize>,
    },
    /// The data section is shorter or longer than the header's shape requires.
    #[error(
        "wrong data length for shape {shape:?} of {dtype}: expected {expected} bytes, found {found}"
    )]
    DataLength {
        /// Shape from the header.
        shape: Vec<usize>,
        /// Element descriptor.
        dtype: &'static str,
        /// Bytes the shape requires.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// A `bool` element that is neither 0 nor 1.
    #[error("invalid bool byte {byte:#04x} at element {index} (expected 0x00 or 0x01)")]
    InvalidBool {
        /// Flat (C-order) element index.
        index: usize,
        /// The byte found.
        byte: u8,
    },
}

/// An element type that can be stored in `.npy` files (little-endian).
pub trait NpyElement: Copy + Sized {
    /// NumPy dtype descriptor as NumPy writes it, e.g. `<f8`, `|u1`.
    const DESCR: &'static str;
    /// Rust type name, for error messages.
    const RUST_TYPE: &'static str;
    /// Size of one element in bytes.
    const SIZE: usize;
    /// Decodes one element from exactly `SIZE` little-endian bytes (`index` for error messages).
    fn decode(bytes: &[u8], index: usize) -> Result<Self, NpyError>;
    /// Appends the little-endian bytes of `self`.
    fn encode(self, out: &mut Vec<u8>);
}

macro_rules! npy_number {
    ($t:ty, $descr:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            const RUST_TYPE: &'static str = stringify!($t);
            const SIZE: usize = std::mem::size_of::<$t>();
            fn decode(bytes: &[u8], _index: usize) -> Result<Self, NpyError> {
                let array = bytes.try_into().expect("caller passes exactly SIZE bytes");
                Ok(<$t>::from_le_bytes(array))
            }
            fn encode(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}

npy_number!(f32, "<f4");
npy_number!(f64, "<f8");
npy_number!(i32, "<i4");
npy_number!(i64, "<i8");
npy_number!(u8, "|u1");
npy_number!(u16, "<u2");
npy_number!(u32, "<u4");

impl NpyElement for bool {
    const DESCR: &'static str = "|b1";
    const RUST_TYPE: &'static str = "bool";
    const SIZE: usize = 1;
    fn decode(bytes: &[u8], index: usize) -> Result<Self, NpyError> {
        match bytes[0] {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(NpyError::InvalidBool { index, byte }),
        }
    }
    fn encode(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy aligns the start of the data to this many bytes.
const ALIGN: usize = 64;
/// NumPy reserves room for the first axis to grow to this many digits.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// The header dictionary text exactly as NumPy writes it, before padding.
fn header_dict(descr: &str, shape: &[usize]) -> String {
    let shape_text = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    dict
}

/// Complete preamble (magic, version, length, padded header ending in `\n`).
fn preamble(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dict = header_dict(descr, shape);
    // Version 1.0 has a 2-byte length (prefix 10 bytes), 2.0 a 4-byte one (prefix 12 bytes).
    // NumPy's `_wrap_header` pads by `ALIGN - (prefix + len + 1) % ALIGN`: a full 64 bytes when
    // already aligned.
    let padded_len = |prefix: usize| {
        let unpadded = dict.len() + 1;
        unpadded + ALIGN - (prefix + unpadded) % ALIGN
    };
    let (major, prefix) = if padded_len(10) <= usize::from(u16::MAX) {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let header_len = padded_len(prefix);
    let mut out = Vec::with_capacity(prefix + header_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        let len = u16::try_from(header_len).expect("checked to fit in u16 above");
        out.extend_from_slice(&len.to_le_bytes());
    } else {
        let len = u32::try_from(header_len).expect("a header of ndim usizes fits in u32");
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(prefix + header_len - 1, b' ');
    out.push(b'\n');
    out
}

/// Writes `array` (any layout; elements are written in logical C order) to a stream.
pub fn write_npy_to<W, T, S, D>(writer: &mut W, array: &ArrayBase<S, D>) -> Result<(), NpyError>
where
    W: Write,
    T: NpyElement,
    S: Data<Elem = T>,
    D: Dimension,
{
    writer.write_all(&preamble(T::DESCR, array.shape()))?;
    const CHUNK_BYTES: usize = 1 << 16;
    let mut buffer = Vec::with_capacity(CHUNK_BYTES + T::SIZE);
    for &value in array.iter() {
        value.encode(&mut buffer);
        if buffer.len() >= CHUNK_BYTES {
            writer.write_all(&buffer)?;
            buffer.clear();
        }
    }
    writer.write_all(&buffer)?;
    Ok(())
}

/// Writes `array` to a `.npy` file (created or truncated).
pub fn write_npy<T, S, D>(path: &Path, array: &ArrayBase<S, D>) -> Result<(), NpyError>
where
    T: NpyElement,
    S: Data<Elem = T>,
    D: Dimension,
{
    let file_error = |action| {
        move |source| NpyError::File {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let file = File::create(path).map_err(file_error("create"))?;
    let mut writer = BufWriter::new(file);
    match write_npy_to(&mut writer, array) {
        Err(NpyError::Io(source)) => Err(file_error("write")(source)),
        other => other,
    }?;
    writer.flush().map_err(file_error("write"))
}

/// Parsed header fields.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the header dictionary, e.g. `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }`.
fn parse_header(text: &str) -> Result<Header, NpyError> {
    let corrupt = |reason: &str| NpyError::CorruptHeader {
        reason: reason.to_string(),
        header: text.to_string(),
    };
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| corrupt("expected a dictionary in braces"))?;
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let (key, after_key) =
            parse_quoted(rest).ok_or_else(|| corrupt("expected a quoted key"))?;
        let after_colon = after_key
            .trim_start()
            .strip_prefix(':')
            .ok_or_else(|| corrupt("expected ':' after a key"))?
            .trim_start();
        let after_value = match key {
            "descr" => {
                let (d, r) =
                    parse_quoted(after_colon).ok_or_else(|| corrupt("'descr' is not a string"))?;
                descr = Some(d.to_string());
                r
            }
            "fortran_order" => {
                let (value, r) = if let Some(r) = after_colon.strip_prefix("False") {
                    (false, r)
                } else if let Some(r) = after_colon.strip_prefix("True") {
                    (true, r)
                } else {
                    return Err(corrupt("'fortran_order' is neither True nor False"));
                };
                fortran_order = Some(value);
                r
            }
            "shape" => {
                let close = after_colon
                    .find(')')
                    .filter(|_| after_colon.starts_with('('))
                    .ok_or_else(|| corrupt("'shape' is not a tuple"))?;
                let dims = after_colon[1..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim_end_matches('L').parse::<usize>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| corrupt("'shape' holds something other than integers"))?;
                shape = Some(dims);
                &after_colon[close + 1..]
            }
            _ => return Err(corrupt(&format!("unexpected key '{key}'"))),
        };
        let after_value = after_value.trim_start();
        rest = match after_value.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if after_value.is_empty() => after_value,
            None => return Err(corrupt("expected ',' between entries")),
        };
    }
    Ok(Header {
        descr: descr.ok_or_else(|| corrupt("missing 'descr'"))?,
        fortran_order: fortran_order.ok_or_else(|| corrupt("missing 'fortran_order'"))?,
        shape: shape.ok_or_else(|| corrupt("missing 'shape'"))?,
    })
}

/// Splits a leading `'…'` or `"…"` string off `text`: (content, remainder).
fn parse_quoted(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = text[1..].find(quote)? + 1;
    Some((&text[1..end], &text[end + 1..]))
}

/// Whether a descriptor from a file denotes `T` (1-byte types may use `|`, `<` or `=`).
fn descr_matches<T: NpyElement>(found: &str) -> bool {
    if found == T::DESCR {
        return true;
    }
    T::SIZE == 1
        && ["<", "="]
            .iter()
            .any(|p| found == format!("{p}{}", &T::DESCR[1..]))
}

/// Reads a `.npy` stream holding elements of type `T`.
pub fn read_npy_from<T: NpyElement, R: Read>(reader: &mut R) -> Result<ArrayD<T>, NpyError> {
    let mut start = [0u8; 8];
    reader.read_exact(&mut start)?;
    if &start[..6] != MAGIC {
        return Err(NpyError::BadMagic {
            found: start[..6].to_vec(),
        });
    }
    let (major, minor) = (start[6], start[7]);
    let header_len = match (major, minor) {
        (1, 0) => {
            let mut len = [0u8; 2];
            reader.read_exact(&mut len)?;
            usize::from(u16::from_le_bytes(len))
        }
        (2, 0) | (3, 0) => {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len)?;
            usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX)
        }
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    let mut header_bytes = Vec::new();
    reader
        .by_ref()
        .take(header_len as u64)
        .read_to_end(&mut header_bytes)?;
    let header_text = String::from_utf8_lossy(&header_bytes).into_owned();
    if header_bytes.len() != header_len {
        return Err(NpyError::CorruptHeader {
            reason: format!(
                "header length field says {header_len} bytes, found {}",
                header_bytes.len()
            ),
            header: header_text,
        });
    }
    let header = parse_header(&header_text)?;
    if !descr_matches::<T>(&header.descr) {
        return Err(NpyError::WrongDtype {
            expected: T::DESCR,
            rust_type: T::RUST_TYPE,
            found: header.descr,
        });
    }
    if header.fortran_order {
        return Err(NpyError::FortranOrder);
    }
    let expected_bytes = header
        .shape
        .iter()
        .try_fold(T::SIZE, |acc, &n| acc.checked_mul(n))
        .ok_or_else(|| NpyError::CorruptHeader {
            reason: format!("shape {:?} overflows the address space", header.shape),
            header: header_text.clone(),
        })?;
    // ndarray also requires the product of the non-zero axis lengths to fit an isize, even for
    // an empty array: `(0, 2**63)` holds no bytes but is not a shape any array can have.
    let fits = header
        .shape
        .iter()
        .filter(|&&n| n != 0)
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .is_some_and(|n| n <= isize::MAX as usize);
    if !fits {
        return Err(NpyError::CorruptHeader {
            reason: format!("shape {:?} is too large for an array", header.shape),
            header: header_text,
        });
    }
    let mut data = Vec::new();
    // Read one byte past the expected end to detect trailing garbage without trusting the
    // header for a huge allocation up front.
    reader
        .by_ref()
        .take(expected_bytes as u64 + 1)
        .read_to_end(&mut data)?;
    if data.len() != expected_bytes {
        let found = if data.len() > expected_bytes {
            let mut extra = Vec::new();
            reader.read_to_end(&mut extra)?;
            data.len() + extra.len()
        } else {
            data.len()
        };
        return Err(NpyError::DataLength {
            shape: header.shape,
            dtype: T::DESCR,
            expected: expected_bytes,
            found,
        });
    }
    let values = data
        .chunks_exact(T::SIZE)
        .enumerate()
        .map(|(index, bytes)| T::decode(bytes, index))
        .collect::<Result<Vec<T>, NpyError>>()?;
    let shape = header.shape.clone();
    ArrayD::from_shape_vec(IxDyn(&header.shape), values).map_err(|e| NpyError::CorruptHeader {
        reason: format!("shape {shape:?}: {e}"),
        header: header_text,
    })
}

/// Reads a `.npy` file holding elements of type `T`, of any dimensionality.
pub fn read_npy<T: NpyElement>(path: &Path) -> Result<ArrayD<T>, NpyError> {
    let file = File::open(path).map_err(|source| NpyError::File {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    read_npy_from(&mut reader).map_err(|e| match e {
        NpyError::Io(source) => NpyError::File {
            action: "read",
            path: path.to_path_buf(),
            source,
        },
        other => NpyError::InFile {
            path: path.to_path_buf(),
            source: Box::new(other),
        },
    })
}

/// Reads a `.npy` file into an array of fixed dimensionality `D` (e.g. `Ix2`).
pub fn read_npy_nd<T: NpyElement, D: Dimension>(
    path: &Path,
) -> Result<ndarray::Array<T, D>, NpyError> {
    into_dimensionality(read_npy(path)?).map_err(|e| NpyError::InFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Converts a dynamic-dimensional array to `D`, with a descriptive error.
pub fn into_dimensionality<T, D: Dimension>(
    array: ArrayD<T>,
) -> Result<ndarray::Array<T, D>, NpyError> {
    let shape = array.shape().to_vec();
    array
        .into_dimensionality::<D>()
        .map_err(|_| NpyError::WrongDimensionality {
            expected: D::NDIM.unwrap_or(shape.len()),
            found: shape.len(),
            shape,
        })
}

#[cfg(test)]
#[path = "npy_tests.rs"]
mod tests;
