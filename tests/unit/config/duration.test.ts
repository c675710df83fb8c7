import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseDurationMs } from '../../../lib/duration.ts';

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('durations: Authelia notation parses to whole seconds', () => {
  const table: [string | number, number][] = [
    ['90s', 90],
    ['5m', 5 * MINUTE],
    ['1h', HOUR],
    ['1h30m', HOUR + 30 * MINUTE],
    ['1d', DAY],
    ['1w', 7 * DAY],
    ['1M', 30 * DAY],
    ['1y', 365 * DAY],
    ['2d12h', 2 * DAY + 12 * HOUR],
    ['9h60m', 10 * HOUR],
    [' 5m ', 5 * MINUTE],
    ['0', 0],
    ['90', 90],
    [90, 90],
    [0, 0],
  ];
  for (const [input, seconds] of table) {
    it(`${JSON.stringify(input)} is ${seconds}s`, () => assert.equal(parseDuration(input), seconds));
  }

  it("'m' is minutes and 'M' is months, as in Authelia", () => {
    assert.equal(parseDuration('1m'), 60);
    assert.equal(parseDuration('1M'), 2_592_000);
  });
});

describe('durations: -1 means "disabled" and passes through', () => {
  it('as a number and as text', () => {
    assert.equal(parseDuration(-1), -1);
    assert.equal(parseDuration('-1'), -1);
  });
});

describe('durations: anything else is rejected (null), never guessed', () => {
  const junk: (string | number)[] = ['', 'soon', '5x', 'h', '1H', '1.5h', '5m3', '1h-30m', '-5', '-5m', -2, 1.5, Number.NaN, Number.POSITIVE_INFINITY];
  for (const input of junk) {
    it(`${typeof input === 'string' ? JSON.stringify(input) : String(input)} is not a duration`, () => assert.equal(parseDuration(input), null));
  }
});

describe("durations: Authelia's long unit names (its config.template.yml writes '5 minutes', '1 hour', '1 month')", () => {
  const table: [string, number][] = [
    ['5 minutes', 5 * MINUTE],
    ['1 hour', HOUR],
    ['1 month', 30 * DAY],
    ['6 seconds', 6],
    ['1 hour and 30 minutes', HOUR + 30 * MINUTE],
  ];
  for (const [input, seconds] of table) {
    it(`'${input}' is ${seconds}s`, () => assert.equal(parseDuration(input), seconds));
  }
});

describe('durations: long unit names are still strict', () => {
  for (const input of ['5 fortnights', '5 minutes later', 'minutes', '1 hour and', '1 hour or 2 minutes']) {
    it(`'${input}' is not a duration`, () => assert.equal(parseDuration(input), null));
  }
});

describe("durations: units shorter than a second, as Authelia's grammar has them (ms, millisecond(s), Go's us/µs/ns)", () => {
  const seconds: [string, number][] = [
    ['2000ms', 2],
    ['1s500ms', 2], // an option counted in seconds takes a part of a second as a whole one
    ['500ms', 1],
    ['250 milliseconds', 1],
    ['1 millisecond', 1],
    ['1 second and 500 milliseconds', 2],
    ['1 day', DAY],
    ['2 weeks', 14 * DAY],
    ['1 year', 365 * DAY],
  ];
  for (const [input, expected] of seconds) {
    it(`'${input}' is ${expected}s`, () => assert.equal(parseDuration(input), expected));
  }
  const ms: [string, number][] = [
    ['500ms', 500],
    ['1 second and 250 milliseconds', 1250],
    ['1500us', 2],
    ['1500µs', 2],
    ['1000000ns', 1],
    ['3', 3000],
  ];
  for (const [input, expected] of ms) {
    it(`'${input}' is ${expected} ms`, () => assert.equal(parseDurationMs(input), expected));
  }
  it("'5 milliseconds later' and '5 mss' are not durations", () => {
    assert.equal(parseDuration('5 milliseconds later'), null);
    assert.equal(parseDurationMs('5 mss'), null);
  });
});
