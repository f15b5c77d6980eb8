//! Property tests for the request-response frame decoder: arbitrary bytes never panic, never yield more than
//! the limit, and encoding round-trips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tradechain_node::network::codec::{RequestFrame, decode_frame, encode_frame, read_request_frame};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..1024) {
        if let Ok(frame) = decode_frame(&bytes, max) {
            prop_assert!(frame.len() <= max);
            prop_assert!(bytes.len() >= 4 + frame.len());
            prop_assert_eq!(&bytes[4..4 + frame.len()], frame.as_slice());
        }
    }

    #[test]
    fn arbitrary_request_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..1024) {
        let mut cursor = futures::io::Cursor::new(bytes.as_slice());
        match futures::executor::block_on(read_request_frame(&mut cursor, max)) {
            Ok(RequestFrame::Data(d)) => prop_assert!(d.len() <= max),
            Ok(RequestFrame::Oversized { len }) => prop_assert!(len > max as u64),
            Err(_) => {}
        }
    }

    #[test]
    fn huge_announced_lengths_are_refused(len in any::<u32>(), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        let max = 1024usize;
        match decode_frame(&bytes, max) {
            Ok(frame) => {
                prop_assert_eq!(frame.len() as u64, u64::from(len));
                prop_assert!(frame.len() <= tail.len());
            }
            Err(_) => prop_assert!(len as usize > max || (len as usize) > tail.len()),
        }
    }

    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let enc = encode_frame(&data, 2048).unwrap();
        prop_assert_eq!(enc.len(), data.len() + 4);
        prop_assert_eq!(decode_frame(&enc, 2048).unwrap(), data.clone());
        if !data.is_empty() {
            prop_assert!(decode_frame(&enc, data.len() - 1).is_err());
            prop_assert!(decode_frame(&enc[..enc.len() - 1], 2048).is_err());
        }
    }
}
