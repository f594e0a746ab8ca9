//! Guest objects: values with a fixed aarch64 layout that travel between guest memory and the
//! runtime as little-endian bytes.
//!
//! Every structure the guest passes by pointer implements [`GuestObj`]: its size as Linux's
//! `sizeof` gives it, and field-by-field decoding and encoding at the offsets the uapi headers
//! give. Padding and reserved fields are ignored on decode and written as zero on encode, so
//! `decode(encode(x)) == x` for every value. Nothing here reinterprets memory: each field is
//! assembled from its bytes.
//!
//! [`guest_struct!`](crate::guest_struct) writes the impl for a plain structure from a table of
//! `offset => field: type` rows, and checks at compile time that every field lies inside the
//! structure.

/// A value with a fixed guest layout of [`SIZE`](GuestObj::SIZE) bytes.
pub trait GuestObj: Sized {
    /// `sizeof` the structure on aarch64, padding included.
    const SIZE: usize;

    /// Decodes the first `SIZE` bytes of `b`. Panics if `b` is shorter: callers read exactly
    /// `SIZE` bytes of guest memory first.
    fn decode(b: &[u8]) -> Self;

    /// Encodes into the first `SIZE` bytes of `out` (padding and reserved fields zeroed). Panics
    /// if `out` is shorter.
    fn encode(&self, out: &mut [u8]);

    /// The guest bytes of this value.
    fn to_guest_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; Self::SIZE];
        self.encode(&mut out);
        out
    }
}

macro_rules! scalar {
    ($($t:ty),*) => {$(
        impl GuestObj for $t {
            const SIZE: usize = std::mem::size_of::<$t>();

            fn decode(b: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_le_bytes(raw)
            }

            fn encode(&self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

scalar!(u8, i8, u16, i16, u32, i32, u64, i64, u128);

impl<T: GuestObj, const N: usize> GuestObj for [T; N] {
    const SIZE: usize = T::SIZE * N;

    fn decode(b: &[u8]) -> Self {
        assert!(b.len() >= Self::SIZE, "{} bytes for a {}-byte array", b.len(), Self::SIZE);
        std::array::from_fn(|i| T::decode(&b[i * T::SIZE..]))
    }

    fn encode(&self, out: &mut [u8]) {
        for (i, v) in self.iter().enumerate() {
            v.encode(&mut out[i * T::SIZE..(i + 1) * T::SIZE]);
        }
    }
}

/// Decodes an extensible structure the way Linux's `copy_struct_from_user` reads one (`clone3`,
/// `openat2`, `sched_setattr`): `b` is what the guest passed, of the size it claims. A shorter
/// `b` (an older version of the structure) leaves the newer fields zero; a longer one is
/// accepted only if every byte past `SIZE` is zero, else `E2BIG`. The caller checks the size
/// against the call's own bounds first.
pub fn decode_extensible<T: GuestObj>(b: &[u8]) -> Result<T, crate::Errno> {
    if b.len() >= T::SIZE {
        if b[T::SIZE..].iter().any(|&x| x != 0) {
            return Err(crate::Errno::E2BIG);
        }
        return Ok(T::decode(b));
    }
    let mut full = vec![0u8; T::SIZE];
    full[..b.len()].copy_from_slice(b);
    Ok(T::decode(&full))
}

/// Defines a plain guest structure and its [`GuestObj`] impl from its uapi layout:
///
/// ```ignore
/// guest_struct! {
///     /// `struct timespec` (64-bit): 16 bytes.
///     pub struct Timespec: 16 {
///         0 => pub tv_sec: i64,
///         8 => pub tv_nsec: i64,
///     }
/// }
/// ```
///
/// Fields are listed with their byte offsets; every field type is itself a [`GuestObj`]
/// (integers, arrays, other guest structures). Gaps are padding. A field that does not fit in
/// the size is a compile-time error.
#[macro_export]
macro_rules! guest_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident : $size:literal {
            $( $(#[$fmeta:meta])* $off:literal => $fvis:vis $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        const _: () = {
            $( assert!(
                $off + <$ty as $crate::obj::GuestObj>::SIZE <= $size,
                concat!(stringify!($name), ".", stringify!($field), " lies past the end"),
            ); )*
        };

        impl $crate::obj::GuestObj for $name {
            const SIZE: usize = $size;

            fn decode(b: &[u8]) -> Self {
                assert!(b.len() >= $size, "{} bytes for a {}-byte {}", b.len(), $size, stringify!($name));
                $name {
                    $( $field: <$ty as $crate::obj::GuestObj>::decode(&b[$off..]), )*
                }
            }

            fn encode(&self, out: &mut [u8]) {
                let out = &mut out[..$size];
                out.fill(0);
                $( $crate::obj::GuestObj::encode(
                    &self.$field,
                    &mut out[$off..$off + <$ty as $crate::obj::GuestObj>::SIZE],
                ); )*
            }
        }

        impl $name {
            /// The byte offset of each field, by name (for layout tests).
            #[allow(dead_code)]
            pub const OFFSETS: &'static [(&'static str, usize)] = &[ $( (stringify!($field), $off), )* ];
        }
    };
}

#[cfg(test)]
pub(crate) mod testing {
    use super::GuestObj;

    /// Checks `decode(encode(x)) == x` and that encoding writes exactly `SIZE` bytes.
    pub(crate) fn round_trip<T: GuestObj + PartialEq + std::fmt::Debug>(x: &T) {
        let mut buf = vec![0xa5u8; T::SIZE + 8];
        x.encode(&mut buf);
        assert_eq!(&buf[T::SIZE..], &[0xa5u8; 8], "encode wrote past SIZE");
        assert_eq!(&T::decode(&buf), x);
        assert_eq!(x.to_guest_bytes(), buf[..T::SIZE].to_vec());
    }

    /// The offset `OFFSETS` gives `field`.
    pub(crate) fn offset(offsets: &[(&str, usize)], field: &str) -> usize {
        offsets.iter().find(|(n, _)| *n == field).unwrap_or_else(|| panic!("no field {field}")).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    guest_struct! {
        struct Sample: 24 {
            0 => a: u32,
            8 => b: i64,
            16 => c: [u16; 3],
        }
    }

    #[test]
    fn test_scalars_are_little_endian() {
        let mut b = [0u8; 8];
        0x0102_0304u32.encode(&mut b);
        assert_eq!(&b[..4], &[4, 3, 2, 1]);
        assert_eq!(u32::decode(&b), 0x0102_0304);
        assert_eq!(<[u16; 3]>::SIZE, 6);
    }

    #[test]
    fn test_macro_zeroes_padding() {
        let s = Sample { a: 7, b: -1, c: [1, 2, 3] };
        let mut buf = [0xffu8; 24];
        s.encode(&mut buf);
        assert_eq!(&buf[4..8], &[0; 4]);
        assert_eq!(&buf[22..24], &[0; 2]);
        assert_eq!(Sample::decode(&buf), s);
        assert_eq!(testing::offset(Sample::OFFSETS, "c"), 16);
        testing::round_trip(&s);
    }

    #[test]
    #[should_panic(expected = "bytes for a 24-byte Sample")]
    fn test_short_buffer_panics() {
        Sample::decode(&[0u8; 23]);
    }

    #[test]
    fn test_extensible_sizes() {
        let s = Sample { a: 1, b: 2, c: [3, 4, 5] };
        let full = s.to_guest_bytes();
        assert_eq!(decode_extensible::<Sample>(&full[..16]), Ok(Sample { c: [0; 3], ..s }));
        let mut longer = full.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(decode_extensible::<Sample>(&longer), Ok(s));
        longer[30] = 1;
        assert_eq!(decode_extensible::<Sample>(&longer), Err(crate::Errno::E2BIG));
    }
}
