// Terminal tickets (what POST /api/terminal/ticket hands out and /ws/terminal redeems): their shape,
// single use, the 5 s lifetime and the cap on tickets in flight. The WebSocket side is in
// monitor-terminal.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TicketStore } from '../../monitor/terminal/tickets.ts';

function storeAt(start = 1_000_000): { store: TicketStore; clock: { ms: number } } {
  const clock = { ms: start };
  return { store: new TicketStore({ now: () => clock.ms }), clock };
}

describe('issue() answers ProxMenux shape: {ticket, ttl_seconds: 5}', () => {
  it('a ticket is 32 random bytes in base64url, different every time', () => {
    const { store } = storeAt();
    const issued = store.issue({ username: 'alice' });
    assert.deepEqual(Object.keys(issued).sort(), ['ticket', 'ttl_seconds']);
    assert.equal(issued.ttl_seconds, 5);
    assert.match(issued.ticket, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(issued.ticket, 'base64url').length, 32);
    const many = new Set(Array.from({ length: 100 }, () => store.issue({ username: 'alice' }).ticket));
    assert.equal(many.size, 100);
  });
});

describe('consume() redeems a ticket once', () => {
  it('gives back the identity it was issued to, then nothing', () => {
    const { store } = storeAt();
    const identity = { username: 'alice', scope: 'full_admin' };
    const { ticket } = store.issue(identity);
    assert.equal(store.consume(ticket), identity);
    assert.equal(store.consume(ticket), null);
  });

  it('refuses missing, empty and unknown tickets', () => {
    const { store } = storeAt();
    store.issue({ username: 'alice' });
    assert.equal(store.consume(null), null);
    assert.equal(store.consume(undefined), null);
    assert.equal(store.consume(''), null);
    assert.equal(store.consume(Buffer.alloc(32).toString('base64url')), null);
    assert.equal(store.outstanding, 1, 'a wrong guess does not spend the real ticket');
  });
});

describe('a ticket lives 5 s', () => {
  it('is accepted up to 4.999 s after issue and refused from 5 s on', () => {
    const { store, clock } = storeAt();
    const early = store.issue({ username: 'alice' }).ticket;
    const late = store.issue({ username: 'alice' }).ticket;
    clock.ms += 4_999;
    assert.equal(store.consume(early)?.username, 'alice');
    clock.ms += 1;
    assert.equal(store.consume(late), null);
  });

  it('expired tickets stop counting as outstanding', () => {
    const { store, clock } = storeAt();
    store.issue({ username: 'alice' });
    clock.ms += 5_000;
    assert.equal(store.outstanding, 0);
  });
});

describe('at most 256 tickets in flight', () => {
  it('issuing the 257th drops the oldest, and only it', () => {
    const { store } = storeAt();
    const tickets = Array.from({ length: 257 }, (_, i) => store.issue({ username: `user${i}` }).ticket);
    assert.equal(store.outstanding, 256);
    assert.equal(store.consume(tickets[0]), null, 'the oldest was dropped');
    assert.equal(store.consume(tickets[1])?.username, 'user1');
    assert.equal(store.consume(tickets[256])?.username, 'user256');
  });
});
