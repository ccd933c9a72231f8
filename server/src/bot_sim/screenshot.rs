//! The picture a simulated bot "captures": a small valid PNG, tinted by the bot's state.

/// A small PNG (uncompressed deflate) the simulated bot "captures": a gradient tinted by state.
pub fn fake_screenshot(state: &str) -> Vec<u8> {
    const W: u32 = 160;
    const H: u32 = 90;
    let tint: [u8; 3] = match state {
        "IN_CALL" => [16, 185, 129],
        "FATAL" => [220, 38, 38],
        _ => [99, 102, 241],
    };
    let mut raw = Vec::with_capacity(((W * 3 + 1) * H) as usize);
    let mut row = vec![0u8]; // filter type 0, then RGB pixels
    for x in 0..W {
        let shade = (x * 255 / W) as u16;
        row.extend(tint.map(|c| ((u16::from(c) * (128 + shade / 2)) / 255) as u8));
    }
    for _ in 0..H {
        raw.extend_from_slice(&row);
    }
    // zlib stream with stored (uncompressed) deflate blocks.
    let mut z = vec![0x78, 0x01];
    for (i, chunk) in raw.chunks(65_535).enumerate() {
        let last = (i + 1) * 65_535 >= raw.len();
        z.push(u8::from(last));
        let len = chunk.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(chunk);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in data {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&W.to_be_bytes());
    ihdr.extend_from_slice(&H.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fake_screenshot_is_a_png() {
        let png = super::fake_screenshot("IN_CALL");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND with its CRC");
    }
}
