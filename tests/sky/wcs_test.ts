import assert from "node:assert/strict";
import { FitsHeader } from "../../lib/fits/header.ts";
import {
  gnomonicForward,
  gnomonicInverse,
  pixelToSky,
  readCelestialWcs,
  separation,
  skyToPixel,
  WcsError,
} from "../../lib/sky/wcs.ts";
import { card } from "./_fits.ts";

const header = (cards: string[]) => FitsHeader.fromString([...cards, "END".padEnd(80)].join(""));

const TAN_SIP = [
  card("NAXIS", 2),
  card("NAXIS1", 2136),
  card("NAXIS2", 2078),
  card("CTYPE1", "RA---TAN-SIP"),
  card("CTYPE2", "DEC--TAN-SIP"),
  card("CRVAL1", 150.5),
  card("CRVAL2", 60.25),
  card("CRPIX1", 1045.0),
  card("CRPIX2", 1001.0),
  card("CD1_1", -0.0055),
  card("CD1_2", 0.0008),
  card("CD2_1", 0.0007),
  card("CD2_2", 0.0056),
  card("A_ORDER", 2),
  card("B_ORDER", 2),
  card("A_2_0", 2.1e-6),
  card("A_1_1", -1.3e-6),
  card("A_0_2", 0.9e-6),
  card("B_2_0", -0.8e-6),
  card("B_1_1", 1.7e-6),
  card("B_0_2", 2.4e-6),
];

Deno.test("wcs: gnomonic forward and inverse round trip", () => {
  for (const [ra, dec, ra0, dec0] of [[10.5, 20.2, 10, 20], [359.5, 89, 0, 88], [200, -40, 195, -42]]) {
    const g = gnomonicForward(ra, dec, ra0, dec0)!;
    const back = gnomonicInverse(g.xi, g.eta, ra0, dec0);
    assert.ok(separation(back, { ra, dec }) < 1e-9, `${ra} ${dec}`);
  }
  assert.equal(gnomonicForward(180, 0, 0, 0), null);
  assert.ok(gnomonicForward(10.1, 20, 10, 20)!.xi > 0, "xi grows with RA");
});

Deno.test("wcs: TAN-SIP header read; the reference pixel maps to CRVAL; sky to pixel inverts SIP", () => {
  const wcs = readCelestialWcs(header(TAN_SIP))!;
  assert.ok(wcs.sip);
  assert.deepEqual(wcs.naxis, [2136, 2078]);
  const c = pixelToSky(wcs, 1045, 1001);
  assert.ok(separation(c, { ra: 150.5, dec: 60.25 }) < 1e-9);
  for (const [x, y] of [[1, 1], [2136, 1], [300, 1900], [2136, 2078]]) {
    const s = pixelToSky(wcs, x, y);
    const p = skyToPixel(wcs, s.ra, s.dec)!;
    assert.ok(Math.abs(p.x - x) < 1e-6 && Math.abs(p.y - y) < 1e-6, `${x} ${y} -> ${p.x} ${p.y}`);
  }
  // SIP moves the corner by A_2_0 u^2 + ... pixels (here about 2 pixels).
  const plain = readCelestialWcs(header(TAN_SIP.filter((c) => !/^[AB]_/.test(c))))!;
  const d = separation(pixelToSky(wcs, 1, 1), pixelToSky(plain, 1, 1)) * 3600;
  assert.ok(d > 5, `SIP shifts the corner by ${d} arcsec`);
});

Deno.test("wcs: PS1-style CDELT with PC001001 keywords; other projections refused", () => {
  const w = readCelestialWcs(header([
    card("CTYPE1", "RA---TAN"),
    card("CTYPE2", "DEC--TAN"),
    card("CRVAL1", 196.363636363636),
    card("CRVAL2", 70.0),
    card("CRPIX1", 29663.5),
    card("CRPIX2", -17370.0),
    card("CDELT1", 6.9444446e-05),
    card("CDELT2", 6.9444446e-05),
    card("PC001001", -1.0),
    card("PC002002", 1.0),
  ]))!;
  assert.deepEqual(w.cd, [[-6.9444446e-05, 0], [0, 6.9444446e-05]]);
  const centre = pixelToSky(w, 3183, 3175.5);
  assert.ok(separation(centre, { ra: 202.115764, dec: 71.339009 }) < 0.5 / 3600);
  assert.throws(
    () =>
      readCelestialWcs(header([card("CTYPE1", "RA---SIN"), card("CTYPE2", "DEC--SIN"), ...TAN_SIP.slice(5)])),
    WcsError,
  );
  assert.equal(readCelestialWcs(header([card("NAXIS", 0)])), null);
});
