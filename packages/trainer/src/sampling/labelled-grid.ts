import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';

/** One labelled grid: a label per row, column groups (e.g. "base" | "adapted") each with its column labels. */
export interface LabelledGridSpec {
  title: string;
  rowLabels: string[][];
  columnGroups: { label: string; columns: string[] }[];
  /** cells[row][column] over all groups' columns in order: HWC RGB bytes of side × side. */
  cells: Uint8Array[][];
  side: number;
}

const LABEL_WIDTH = 190;
const TITLE_HEIGHT = 24;
const HEADER_HEIGHT = 40;
const GAP = 4;
const GROUP_GAP = 14;
const FONT = "font-family=\"DejaVu Sans, Liberation Sans, Arial, sans-serif\"";

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Cells are scaled up (nearest) to at least 96 px so tiny models stay visible, and down to at most 256 px. */
export function cellSize(side: number): number {
  if (side > 256) return 256;
  return side * Math.max(1, Math.floor(96 / side));
}

/**
 * Writes the grid as PNG: a title, group headers over their column headers, row labels on the left (each row label
 * one or two lines). Text is SVG composited by sharp (librsvg), so no canvas library is needed.
 */
export async function writeLabelledGrid(file: string, spec: LabelledGridSpec): Promise<void> {
  const cell = cellSize(spec.side);
  const columnsLeft: number[] = [];
  let x = LABEL_WIDTH;
  const groupSpans: { label: string; left: number; right: number }[] = [];
  spec.columnGroups.forEach((g, gi) => {
    if (gi > 0) x += GROUP_GAP;
    const left = x;
    for (let c = 0; c < g.columns.length; c++) {
      columnsLeft.push(x);
      x += cell + GAP;
    }
    groupSpans.push({ label: g.label, left, right: x - GAP });
  });
  const width = x + GAP;
  const top = TITLE_HEIGHT + HEADER_HEIGHT;
  const height = top + spec.rowLabels.length * (cell + GAP) + GAP;
  const columnLabels = spec.columnGroups.flatMap((g) => g.columns);
  const texts: string[] = [
    `<text x="8" y="17" ${FONT} font-size="14" font-weight="bold" fill="#111">${escapeXml(clip(spec.title, Math.floor(width / 8)))}</text>`,
  ];
  for (const g of groupSpans) {
    texts.push(`<rect x="${g.left}" y="${TITLE_HEIGHT + 2}" width="${g.right - g.left}" height="16" fill="#e8eef7"/>`);
    texts.push(`<text x="${(g.left + g.right) / 2}" y="${TITLE_HEIGHT + 14}" text-anchor="middle" ${FONT} font-size="12" font-weight="bold" fill="#123">${escapeXml(clip(g.label, Math.floor((g.right - g.left) / 7)))}</text>`);
  }
  columnLabels.forEach((label, c) => {
    texts.push(`<text x="${columnsLeft[c] + cell / 2}" y="${TITLE_HEIGHT + 34}" text-anchor="middle" ${FONT} font-size="11" fill="#333">${escapeXml(clip(label, Math.floor(cell / 6)))}</text>`);
  });
  spec.rowLabels.forEach((lines, r) => {
    const y = top + r * (cell + GAP) + cell / 2;
    lines.slice(0, 2).forEach((line, i) => {
      texts.push(`<text x="8" y="${y + (i - (Math.min(lines.length, 2) - 1) / 2) * 15 + 4}" ${FONT} font-size="12" fill="#111">${escapeXml(clip(line, 26))}</text>`);
    });
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`);
  const composites: OverlayOptions[] = [{ input: svg, left: 0, top: 0 }];
  for (let r = 0; r < spec.cells.length; r++) {
    for (let c = 0; c < spec.cells[r].length; c++) {
      const input = await sharp(Buffer.from(spec.cells[r][c]), { raw: { width: spec.side, height: spec.side, channels: 3 } })
        .resize(cell, cell, { kernel: spec.side < cell ? 'nearest' : 'lanczos3' })
        .png()
        .toBuffer();
      composites.push({ input, left: columnsLeft[c], top: top + r * (cell + GAP) });
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  await sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(file);
}
