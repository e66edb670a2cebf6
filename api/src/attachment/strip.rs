//! Metadata taken out of photos on the way in: EXIF (which holds GPS positions, the
//! camera's serial number and the time), XMP, IPTC and comments. The image itself is not
//! re-encoded: its containers are parsed and written back without those segments.
use img_parts::jpeg::{markers, Jpeg};
use img_parts::png::Png;
use img_parts::webp::WebP;
use img_parts::{Bytes, ImageEXIF};

/// The photo without its metadata, and the names of what was taken out (for the record's
/// `metadataRemoved`). Err: the photo's container is broken.
pub fn strip(mime: &str, data: Bytes) -> Result<(Bytes, Vec<&'static str>), String> {
    let mut removed = Vec::new();
    let mut note = |what: &'static str| {
        if !removed.contains(&what) {
            removed.push(what);
        }
    };
    let out = match mime {
        "image/jpeg" => {
            let mut jpeg =
                Jpeg::from_bytes(data).map_err(|e| format!("not a readable JPEG ({e})"))?;
            jpeg.segments_mut().retain(|s| {
                let m = s.marker();
                let c = s.contents();
                let what = match m {
                    // JFIF (APP0), the colour profile (APP2 ICC_PROFILE) and Adobe's colour
                    // transform (APP14) are needed to show the image as taken.
                    markers::APP0 => None,
                    markers::APP2 if c.starts_with(b"ICC_PROFILE\0") => None,
                    markers::APP14 if c.starts_with(b"Adobe") => None,
                    markers::APP1 if c.starts_with(b"Exif\0") => Some("EXIF"),
                    markers::APP1 if c.starts_with(b"http://ns.adobe.com/") => Some("XMP"),
                    markers::APP13 => Some("IPTC"),
                    markers::COM => Some("comment"),
                    0xE1..=0xEF => Some("other metadata"),
                    _ => None,
                };
                match what {
                    Some(w) => {
                        note(w);
                        false
                    }
                    None => true,
                }
            });
            jpeg.encoder().bytes()
        }
        "image/png" => {
            let mut png = Png::from_bytes(data).map_err(|e| format!("not a readable PNG ({e})"))?;
            png.chunks_mut().retain(|c| {
                let what = match &c.kind() {
                    b"eXIf" => Some("EXIF"),
                    b"iTXt" if c.contents().starts_with(b"XML:com.adobe.xmp") => Some("XMP"),
                    b"tEXt" | b"zTXt" | b"iTXt" => Some("text"),
                    b"tIME" => Some("timestamp"),
                    _ => None,
                };
                match what {
                    Some(w) => {
                        note(w);
                        false
                    }
                    None => true,
                }
            });
            png.encoder().bytes()
        }
        "image/webp" => {
            let mut webp =
                WebP::from_bytes(data).map_err(|e| format!("not a readable WebP ({e})"))?;
            if webp.exif().is_some() {
                note("EXIF");
                webp.set_exif(None);
            }
            if webp.chunk_by_id(*b"XMP ").is_some() {
                note("XMP");
                webp.remove_chunks_by_id(*b"XMP ");
            }
            webp.encoder().bytes()
        }
        _ => return Ok((data, Vec::new())),
    };
    Ok((out, removed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use img_parts::jpeg::JpegSegment;

    /// A 1x1 JPEG as a camera writes it, less the pixels' quality: SOI, JFIF, then the
    /// scan. EXIF, XMP and a comment are put in by the test.
    fn jpeg_with_metadata() -> Bytes {
        let mut jpeg = Jpeg::from_bytes(Bytes::from_static(TINY_JPEG)).unwrap();
        let segs = jpeg.segments_mut();
        segs.insert(
            1,
            JpegSegment::new_with_contents(
                markers::APP1,
                Bytes::from_static(b"Exif\0\0MM\0*GPSLatitude 51.5074 SerialNumber XK-99"),
            ),
        );
        segs.insert(
            2,
            JpegSegment::new_with_contents(
                markers::APP1,
                Bytes::from_static(
                    b"http://ns.adobe.com/xap/1.0/\0<x:creator>Dr Jones</x:creator>",
                ),
            ),
        );
        segs.insert(
            3,
            JpegSegment::new_with_contents(markers::COM, Bytes::from_static(b"ward 7 bay 3")),
        );
        jpeg.encoder().bytes()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_photos_metadata_is_taken_out_and_its_image_kept() {
        let photo = jpeg_with_metadata();
        assert!(contains(&photo, b"GPSLatitude"));
        let (clean, removed) = strip("image/jpeg", photo).unwrap();
        for gone in [
            &b"GPSLatitude"[..],
            b"SerialNumber",
            b"Dr Jones",
            b"ward 7",
            b"Exif",
        ] {
            assert!(!contains(&clean, gone), "{}", String::from_utf8_lossy(gone));
        }
        assert_eq!(removed, vec!["EXIF", "XMP", "comment"]);
        // What is left is the original image, byte for byte.
        assert_eq!(&clean[..], TINY_JPEG);
        let again = Jpeg::from_bytes(clean).unwrap();
        assert!(again.segment_by_marker(markers::SOS).is_some());
    }

    #[test]
    fn a_png_loses_its_text_and_exif_chunks() {
        let mut png = Png::from_bytes(Bytes::from_static(TINY_PNG)).unwrap();
        png.set_exif(Some(Bytes::from_static(b"MM\0*GPSLatitude")));
        let pos = png.chunks().len() - 1;
        png.chunks_mut().insert(
            pos,
            img_parts::png::PngChunk::new(*b"tEXt", Bytes::from_static(b"Author\0Dr Jones")),
        );
        let (clean, removed) = strip("image/png", png.encoder().bytes()).unwrap();
        assert!(!contains(&clean, b"GPSLatitude") && !contains(&clean, b"Dr Jones"));
        assert_eq!(removed, vec!["EXIF", "text"]);
        assert_eq!(&clean[..], TINY_PNG);
    }

    #[test]
    fn a_broken_photo_is_refused() {
        assert!(strip("image/jpeg", Bytes::from_static(b"\xff\xd8\xff\xe1\xff")).is_err());
        let (same, removed) = strip("application/pdf", Bytes::from_static(b"%PDF-1.7")).unwrap();
        assert_eq!(&same[..], b"%PDF-1.7");
        assert!(removed.is_empty());
    }

    /// 1x1 pixel, baseline JPEG (JFIF, quantisation and Huffman tables, one scan).
    const TINY_JPEG: &[u8] = include_bytes!("../../../tests/fixtures/tiny.jpg");
    /// 1x1 pixel PNG (IHDR, IDAT, IEND).
    const TINY_PNG: &[u8] = include_bytes!("../../../tests/fixtures/tiny.png");
}
