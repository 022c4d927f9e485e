//! Text for the plots, laid out with the embedded DejaVu Sans honouring each glyph's side bearings,
//! advance and kerning (plotters 0.3.7's ab_glyph backend places every glyph at the pen position,
//! ignoring its left bearing, and truncates the pen to whole pixels, so letters sit unevenly).
//!
//! [`GlyphBackend`] wraps a plotters backend and replaces its text drawing and measuring with this
//! layout; everything else is passed through. Text is anchored on its line box: from the
//! ascender (top) to the descender (bottom), `size` pixels high.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// DejaVu Sans (Bitstream Vera license, see `assets/DejaVuSans.LICENSE`).
pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// The embedded font, parsed once; `None` if it cannot be parsed (reported by `plot::ensure_font`).
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
}

/// The glyphs of `text` at `size` pixels: (glyph, pen x of its origin), and the total advance.
fn layout(font: &FontRef<'static>, text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut pen = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        glyphs.push((id, pen));
        pen += scaled.h_advance(id);
        prev = Some(id);
    }
    (glyphs, pen)
}

/// Width in pixels of `text` set at `size` pixels (advances plus kerning).
pub fn text_width(text: &str, size: f64) -> f64 {
    font().map_or(0.0, |f| f64::from(layout(f, text, size as f32).1))
}

/// The horizontal extent of the ink of `text` at `size` pixels, relative to the pen's start:
/// `(leftmost, rightmost)` pixel column any glyph covers (`None` for blank text).
pub fn ink_extent(text: &str, size: f64) -> Option<(f32, f32)> {
    let font = font()?;
    let scale = PxScale::from(size as f32);
    let (glyphs, _) = layout(font, text, size as f32);
    glyphs
        .iter()
        .filter_map(|&(id, x)| {
            let b = font
                .outline_glyph(id.with_scale_and_position(scale, point(x, 0.0)))?
                .px_bounds();
            Some((b.min.x, b.max.x))
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

/// `text` broken at spaces into lines no wider than `max_width` at `size` pixels, shrinking the
/// size (down to `min_size`) only while a single word is wider than that. Returns the lines and
/// the size used; at `min_size` a word that still does not fit gets a line of its own.
pub fn wrap(text: &str, size: u32, min_size: u32, max_width: f64) -> (Vec<String>, u32) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut size = size.max(1);
    while size > min_size.max(1)
        && words
            .iter()
            .any(|w| text_width(w, f64::from(size)) > max_width)
    {
        size -= 1;
    }
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        match lines.last_mut() {
            Some(line) if text_width(&format!("{line} {word}"), f64::from(size)) <= max_width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    (lines, size)
}

/// A plotters backend whose text is drawn and measured by this module; all else is `B`'s.
pub struct GlyphBackend<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for GlyphBackend<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let size = style.size();
        Ok((text_width(text, size).ceil() as u32, size.ceil() as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        let Some(font) = font() else {
            return Ok(());
        };
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let size = style.size() as f32;
        let scale = PxScale::from(size);
        let (glyphs, width) = layout(font, text, size);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => -size / 2.0,
            VPos::Bottom => -size,
        };
        let ascent = font.as_scaled(scale).ascent();
        let trans = style.transform();
        let (w, h) = self.0.get_size();
        for (id, x) in glyphs {
            // Positioned at its exact (sub-pixel) pen position: the outline carries the glyph's
            // side bearing, and the rasteriser the fractional offset.
            let glyph = id.with_scale_and_position(scale, point(x + dx, ascent + dy));
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            let mut coverage = Vec::new();
            outline.draw(|gx, gy, c| coverage.push((gx, gy, c)));
            for (gx, gy, c) in coverage {
                if c <= 0.0 {
                    continue;
                }
                let (ox, oy) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                let (tx, ty) = trans.transform(ox, oy);
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px < 0 || py < 0 || px >= w as i32 || py >= h as i32 {
                    continue;
                }
                let alpha = color.alpha * f64::from(c.min(1.0));
                self.0.draw_pixel(
                    (px, py),
                    BackendColor {
                        alpha,
                        rgb: color.rgb,
                    },
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
