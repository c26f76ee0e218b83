// SPDX-License-Identifier: ISC
//
// Drive `dazai mcp` with the official MCP SDK's client over stdio, as an
// agent's host would, and write what it saw as one JSON object per line
// to OUT for the Check test (tests/test_mcp.c) to judge. The SDK itself
// checks each structuredContent against the tool's outputSchema and
// throws when they differ, so a passing call is also a schema check.
//
// usage: node sdk_client.mjs DAZAI SOCKET OUT tour SLEEPER_PID
//        node sdk_client.mjs DAZAI SOCKET OUT hard
//        node sdk_client.mjs DAZAI SOCKET OUT tools CONFIG
//
// tour: initialize, tools/list, dazai_status, dazai_register of the
// sleeper, dazai_status again, a bad argument, dazai_arm, dazai_panic.
// hard: initialize, tools/list, dazai_hard_panic.
// tools: with CONFIG's [tool] sections, initialize, tools/list, then
// the tools digest, leak and digest again.
// Exit status: 0 when every step ran (its results are in OUT), 1 when
// one threw (its error is in OUT too).

import { appendFileSync, writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from
    '@modelcontextprotocol/sdk/client/stdio.js';

const [dazai, socket, out, mode, extra] = process.argv.slice(2);

// One line of results.
function record(step, value) {
	appendFileSync(out, JSON.stringify({ step, ...value }) + '\n');
}

// A tools/call, recorded with its result.
async function call(client, name, args) {
	const r = await client.callTool({ name, arguments: args ?? {} });
	const text = r.content?.[0]?.type === 'text' ? r.content[0].text : null;
	record(name, {
		isError: r.isError === true,
		structured: r.structuredContent ?? null,
		text,
	});
	return r;
}

async function main() {
	writeFileSync(out, '');
	const transport = new StdioClientTransport({
		command: dazai,
		args: ['--socket', socket, 'mcp',
		    ...(mode === 'tools' ? ['--config', extra] : [])],
		stderr: 'inherit',
	});
	let negotiated = null;
	transport.setProtocolVersion = (v) => { negotiated = v; };
	const client = new Client({ name: 'dazai-tests', version: '1' });
	await client.connect(transport);
	record('initialize', {
		protocolVersion: negotiated,
		server: client.getServerVersion(),
		tools: client.getServerCapabilities()?.tools != null,
	});
	await client.ping();
	const { tools } = await client.listTools();
	record('tools/list', {
		tools: tools.map((t) => ({
			name: t.name,
			input: t.inputSchema?.type ?? null,
			output: t.outputSchema?.type ?? null,
			readOnly: t.annotations?.readOnlyHint ?? null,
			destructive: t.annotations?.destructiveHint ?? null,
		})),
	});
	if (mode === 'tour') {
		await call(client, 'dazai_status');
		await call(client, 'dazai_register', { pid: Number(extra) });
		await call(client, 'dazai_status');
		await call(client, 'dazai_register', { pid: 'not a pid' });
		await call(client, 'dazai_arm');
		await call(client, 'dazai_panic');
	} else if (mode === 'hard') {
		await call(client, 'dazai_hard_panic');
	} else if (mode === 'tools') {
		await call(client, 'digest');
		await call(client, 'leak');
		await call(client, 'digest');
	} else {
		throw new Error(`unknown mode ${mode}`);
	}
	await client.close();
	record('done', {});
}

main().catch((e) => {
	record('error', { message: String(e?.stack ?? e) });
	process.exit(1);
});
