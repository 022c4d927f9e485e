//! Greedy placement of text boxes (marker labels, legends) in pixel space so that they cover as
//! little of the plotted data, and of each other, as possible.

/// An axis-aligned pixel rectangle, `x0 ≤ x < x1`, `y0 ≤ y < y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PixelBox {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl PixelBox {
    /// Box with top-left corner `(x, y)` and size `(w, h)`.
    pub fn at(x: i32, y: i32, (w, h): (i32, i32)) -> Self {
        Self {
            x0: x,
            y0: y,
            x1: x + w,
            y1: y + h,
        }
    }

    fn grown(&self, by: i32) -> Self {
        Self {
            x0: self.x0 - by,
            y0: self.y0 - by,
            x1: self.x1 + by,
            y1: self.y1 + by,
        }
    }

    fn contains(&self, (x, y): (i32, i32)) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }

    fn overlaps(&self, other: &PixelBox) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }

    fn inside(&self, bounds: &PixelBox) -> bool {
        self.x0 >= bounds.x0 && self.y0 >= bounds.y0 && self.x1 <= bounds.x1 && self.y1 <= bounds.y1
    }
}

/// Points along a polyline, at most `step` pixels apart (so that boxes see the lines too).
pub(crate) fn sample_polyline(points: &[(i32, i32)], step: i32) -> Vec<(i32, i32)> {
    let step = step.max(1);
    let mut out = Vec::with_capacity(points.len());
    for pair in points.windows(2) {
        let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
        let n = ((xb - xa).abs().max((yb - ya).abs()) / step).max(1);
        out.extend((0..n).map(|k| (xa + (xb - xa) * k / n, ya + (yb - ya) * k / n)));
    }
    out.extend(points.last().copied());
    out
}

/// What a candidate box must avoid.
pub(crate) struct Obstacles<'a> {
    /// Data pixels (sampled lines, scatter points).
    pub data: &'a [(i32, i32)],
    /// Marker centres (must stay visible).
    pub markers: &'a [(i32, i32)],
    /// Boxes already placed.
    pub taken: &'a [PixelBox],
    /// Area the box must stay inside.
    pub bounds: PixelBox,
}

impl Obstacles<'_> {
    /// Lower is better: leaving the bounds ≫ covering a placed box ≫ a marker ≫ a data pixel.
    fn cost(&self, candidate: &PixelBox) -> u64 {
        let mut cost = 0u64;
        if !candidate.inside(&self.bounds) {
            cost += 1_000_000;
        }
        let overlapping = self.taken.iter().filter(|t| t.grown(2).overlaps(candidate));
        cost += 100_000 * overlapping.count() as u64;
        let padded = candidate.grown(7);
        cost += 1_000 * self.markers.iter().filter(|&&m| padded.contains(m)).count() as u64;
        let padded = candidate.grown(2);
        cost + self.data.iter().filter(|&&p| padded.contains(p)).count() as u64
    }

    /// The cheapest candidate (the first one among equals).
    pub fn best(&self, candidates: impl IntoIterator<Item = PixelBox>) -> Option<PixelBox> {
        let mut best: Option<(u64, PixelBox)> = None;
        for c in candidates {
            let cost = self.cost(&c);
            if best.is_none_or(|(b, _)| cost < b) {
                best = Some((cost, c));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// Candidate boxes of size `(w, h)` around a marker at `(x, y)`: the four diagonals, the sides,
/// above and below, first close and then further out.
pub(crate) fn candidates_around((x, y): (i32, i32), (w, h): (i32, i32)) -> Vec<PixelBox> {
    [8, 24]
        .into_iter()
        .flat_map(|d| {
            [
                (x + d, y - d - h),
                (x - d - w, y - d - h),
                (x + d, y + d),
                (x - d - w, y + d),
                (x + d + 2, y - h / 2),
                (x - d - 2 - w, y - h / 2),
                (x - w / 2, y - d - h - 2),
                (x - w / 2, y + d + 2),
            ]
        })
        .map(|(bx, by)| PixelBox::at(bx, by, (w, h)))
        .collect()
}

/// Places one label per marker, in order, each avoiding the data, the markers and the labels
/// placed before it.
pub(crate) fn place_marker_labels(
    markers: &[(i32, i32)],
    sizes: &[(i32, i32)],
    data: &[(i32, i32)],
    bounds: PixelBox,
) -> Vec<PixelBox> {
    let mut taken: Vec<PixelBox> = Vec::with_capacity(markers.len());
    for (&m, &size) in markers.iter().zip(sizes) {
        let others: Vec<(i32, i32)> = markers.iter().copied().filter(|&o| o != m).collect();
        let obstacles = Obstacles {
            data,
            markers: &others,
            taken: &taken,
            bounds,
        };
        let chosen = obstacles
            .best(candidates_around(m, size))
            .expect("candidates_around is never empty");
        taken.push(chosen);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: PixelBox = PixelBox {
        x0: 0,
        y0: 0,
        x1: 400,
        y1: 300,
    };

    #[test]
    fn polyline_samples_are_dense_and_include_the_ends() {
        let s = sample_polyline(&[(0, 0), (10, 0), (10, 7)], 2);
        assert_eq!(s.first(), Some(&(0, 0)));
        assert_eq!(s.last(), Some(&(10, 7)));
        assert!(
            s.windows(2)
                .all(|w| (w[1].0 - w[0].0).abs() + (w[1].1 - w[0].1).abs() <= 3)
        );
    }

    #[test]
    fn label_avoids_a_line_through_its_preferred_spot() {
        // A diagonal line from bottom-left to top-right passes through the north-east and
        // south-west candidates of a marker on it; the label must go north-west or south-east.
        let line = sample_polyline(&[(0, 300), (300, 0)], 2);
        let boxes = place_marker_labels(&[(150, 150)], &[(40, 16)], &line, BOUNDS);
        let b = boxes[0];
        assert!(line.iter().all(|&p| !b.grown(2).contains(p)), "{b:?}");
    }

    #[test]
    fn stacked_markers_get_disjoint_labels_inside_the_bounds() {
        let markers = [(200, 100), (204, 112), (208, 124), (212, 136)];
        let boxes = place_marker_labels(&markers, &[(48, 16); 4], &[], BOUNDS);
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.inside(&BOUNDS));
            for b in &boxes[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} {b:?}");
            }
            for m in markers {
                assert!(!a.contains(m), "label {a:?} hides marker {m:?}");
            }
        }
    }

    #[test]
    fn a_label_at_the_edge_stays_inside() {
        let boxes = place_marker_labels(&[(395, 5)], &[(40, 16)], &[], BOUNDS);
        assert!(boxes[0].inside(&BOUNDS), "{:?}", boxes[0]);
    }
}
