/** The status page's one stylesheet, inline (no external asset: the page works offline). */
export const PAGE_STYLE = `
:root { color-scheme: light dark; --fg: #1d232a; --muted: #5b6670; --bg: #f6f7f9; --card: #fff; --line: #dde1e6; --ok: #1a7f37; --warn: #b35900; --bad: #c62828; --a: #1f6feb; --b: #8250df; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #9aa4ae; --bg: #111418; --card: #1a1e24; --line: #2d333b; --a: #58a6ff; --b: #bc8cff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1rem; padding: .75rem 1.25rem; background: var(--card); border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.05rem; margin: 0; font-weight: 600; }
header .spacer { flex: 1; }
header form { margin: 0; }
main { padding: 1rem 1.25rem; display: grid; gap: 1rem; max-width: 80rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; min-width: 0; overflow-x: auto; }
h2 { font-size: .95rem; margin: 0 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 500; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .8rem; border: 1px solid currentColor; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.summary { margin: 0 0 .5rem; color: var(--muted); }
button { font: inherit; padding: .25rem .75rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); cursor: pointer; }
svg { width: 100%; height: auto; display: block; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { fill: var(--muted); font-size: 9px; }
svg .routed { stroke: var(--a); fill: none; stroke-width: 1.5; }
svg .forwarded { stroke: var(--b); fill: none; stroke-width: 1.5; stroke-dasharray: 4 2; }
.legend span { margin-right: 1rem; } .legend .routed { color: var(--a); } .legend .forwarded { color: var(--b); }
.login { max-width: 22rem; margin: 12vh auto; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1.25rem 1.5rem; }
.login h1 { font-size: 1.1rem; margin: 0 0 1rem; }
.login label { display: block; margin: .5rem 0 .2rem; color: var(--muted); }
.login input { width: 100%; font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
.login button { margin-top: 1rem; width: 100%; }
.login .error { color: var(--bad); margin: 0 0 .5rem; }
`;
