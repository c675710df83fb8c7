/**
 * `npm run bench:resilience`: issue 7's figures in one run, each beside a baseline measured in the
 * same run on the same machine (not a test: it prints, and exits 1 only when a goal is missed).
 *  1. a real user's login while 60 anonymous logins flood from one address (baseline: the same user
 *     alone). Goal: every real login completes in under 2 s.
 *  2. forward auth while Redis hangs (baseline: the same load with Redis answering). Goal: no 200,
 *     every answer within 600 ms.
 *  3. SIGTERM to exit while 20 connections keep asking (baseline: an idle gateway).
 * Loopback only; every part is bounded in time.
 */
import { runLoginFlood } from './login-flood.ts';
import { runRedisHang, runSigtermUnderLoad } from './faults.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
const goals: string[] = [];

out('1. login while 60 anonymous logins flood from one address (default argon2id, 10 s each)');
const alone = await runLoginFlood({ flood: 0 });
const flooded = await runLoginFlood();
out(`   alone:   ${alone['real_user_logins_per_s']} logins/s, median ${alone['real_user_latency_median_ms']} ms, max ${alone['real_user_latency_max_ms']} ms`);
out(`   flooded: ${flooded['real_user_logins_per_s']} logins/s, median ${flooded['real_user_latency_median_ms']} ms, max ${flooded['real_user_latency_max_ms']} ms, failed ${flooded['real_user_failed']}`);
out(`   flood: ${flooded['flood_sent']} sent, ${flooded['flood_429']} answered 429, ${flooded['flood_401']} answered 401; limiter concurrency ${flooded['password_checks_concurrency']} on ${flooded['cpus']} CPUs`);
out(`   median latency flooded / alone: ${ratio(Number(flooded['real_user_latency_median_ms']), Number(alone['real_user_latency_median_ms']))}`);
const loginGoal = Number(flooded['real_user_latency_max_ms']) < 2_000 && flooded['real_user_failed'] === 0;
out(`   goal (every real login < 2 s): ${loginGoal ? 'met' : 'NOT met'}`);
if (!loginGoal) goals.push('login under flood');

out();
out('2. forward auth (auth-request, 20 connections, 5 s) with Redis answering, then hung');
const healthy = await runRedisHang({ stall: false });
const hung = await runRedisHang();
out(`   Redis answering: ${healthy.answers_per_s} answers/s, p50 ${healthy.p50_ms} ms, p99 ${healthy.p99_ms} ms, max ${healthy.max_ms} ms, ${healthy.allowed_200} × 200`);
out(`   Redis hung:      ${hung.answers_per_s} answers/s, p50 ${hung.p50_ms} ms, p99 ${hung.p99_ms} ms, max ${hung.max_ms} ms, ${hung.allowed_200} × 200, ${hung.denied_401} × 401, ${hung.other_status} other, ${hung.errors} errors`);
out(`   answers/s hung / answering: ${ratio(hung.answers_per_s, healthy.answers_per_s)}`);
const hangGoal = hung.allowed_200 === 0 && hung.max_ms <= 600 && hung.errors === 0;
out(`   goal (no 200, every answer within 600 ms): ${hangGoal ? 'met' : 'NOT met'}`);
if (!hangGoal) goals.push('authz while Redis hangs');

out();
out('3. SIGTERM to exit');
const idle = await runSigtermUnderLoad({ connections: 0 });
const busy = await runSigtermUnderLoad();
out(`   idle:                 ${idle.sigterm_to_exit_ms} ms, exit code ${idle.exit_code}`);
out(`   under 20 connections: ${busy.sigterm_to_exit_ms} ms, exit code ${busy.exit_code} (${busy.answers_before_signal_per_s} answers/s before the signal)`);
const exitGoal = busy.exit_code === 0 && busy.sigterm_to_exit_ms < 10_000;
out(`   goal (exit 0 within server.shutdown_timeout, 10 s): ${exitGoal ? 'met' : 'NOT met'}`);
if (!exitGoal) goals.push('SIGTERM under load');

out();
out(goals.length === 0 ? 'all goals met' : `goals NOT met: ${goals.join(', ')}`);
process.exitCode = goals.length === 0 ? 0 : 1;
