use super::*;
use plotters::prelude::*;

/// Renders `text` left-anchored at `(x, 10)` on a white canvas; the columns holding any ink.
fn inked_columns(text: &str, size: u32, x: i32) -> Vec<bool> {
    let (w, h) = (400u32, 80u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let area = GlyphBackend(BitMapBackend::with_buffer(&mut buf, (w, h))).into_drawing_area();
        area.draw_text(
            text,
            &("sans-serif", size).into_font().color(&BLACK),
            (x, 10),
        )
        .expect("draw");
        area.present().expect("present");
    }
    (0..w as usize)
        .map(|c| (0..h as usize).any(|r| buf[(r * w as usize + c) * 3] < 160))
        .collect()
}

/// The first column of each run of ink.
fn ink_starts(cols: &[bool]) -> Vec<usize> {
    (0..cols.len())
        .filter(|&c| cols[c] && (c == 0 || !cols[c - 1]))
        .collect()
}

fn metrics(c: char, size: f32) -> (f32, f32) {
    let font = font().expect("embedded font parses");
    let scaled = font.as_scaled(PxScale::from(size));
    let id = scaled.glyph_id(c);
    (scaled.h_side_bearing(id), scaled.h_advance(id))
}

#[test]
fn glyphs_sit_at_their_side_bearings_and_advances() {
    // Pairs of upright stems whose bearings differ: plotters 0.3.7 drew each glyph's ink at the
    // pen position, so the gap after `i` was its two bearings, not its right one plus `l`'s left.
    let size = 40.0;
    for pair in ["il", "li", "nl", "ln", "HI", "IH", "mi"] {
        let cs: Vec<char> = pair.chars().collect();
        let (lsb0, adv0) = metrics(cs[0], size);
        let (lsb1, _) = metrics(cs[1], size);
        let x = 20;
        let starts = ink_starts(&inked_columns(pair, size as u32, x));
        assert!(
            starts.len() >= 2,
            "{pair}: two glyphs drawn apart: {starts:?}"
        );
        let first = x as f32 + lsb0;
        let second = x as f32 + adv0 + lsb1;
        assert!(
            (starts[0] as f32 - first).abs() <= 1.0,
            "{pair}: first glyph's ink at {}, its bearing puts it at {first}",
            starts[0]
        );
        let last = starts[starts.len() - 1] as f32;
        assert!(
            (last - second).abs() <= 1.0,
            "{pair}: second glyph's ink at {last}, advance + bearing put it at {second}"
        );
    }
}

#[test]
fn measured_width_is_the_advances_and_covers_the_ink() {
    for (text, size) in [
        ("structure (x-component of the easy axis)", 26.0),
        ("M / Ms", 16.0),
    ] {
        let width = text_width(text, size);
        let (size_f, mut advances) = (size as f32, 0.0f32);
        for c in text.chars() {
            advances += metrics(c, size_f).1;
        }
        // Kerning only ever moves DejaVu's pairs by a fraction of a pixel per pair.
        assert!((width - f64::from(advances)).abs() < text.len() as f64 * 0.5);
        let (lo, hi) = ink_extent(text, size).expect("ink");
        assert!(
            lo >= -1.0 && f64::from(hi) <= width + 1.0,
            "{text}: ink {lo}..{hi}, width {width}"
        );
    }
}

#[test]
fn wrap_breaks_at_spaces_and_shrinks_only_for_a_long_word() {
    let title = "structure (x-component of the easy axis)";
    let (lines, size) = wrap(title, 26, 14, 200.0);
    assert_eq!(size, 26);
    assert!(lines.len() >= 2);
    assert_eq!(lines.join(" "), title);
    for line in &lines {
        assert!(text_width(line, 26.0) <= 200.0, "{line}");
    }
    let (lines, size) = wrap("(x-component", 26, 14, 100.0);
    assert!((14..26).contains(&size));
    assert!(text_width(&lines[0], f64::from(size)) <= 100.0 || size == 14);
    assert_eq!(wrap("", 26, 14, 100.0).0, Vec::<String>::new());
}
