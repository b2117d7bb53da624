// Bundles the dashboard (src/main.jsx: React 19 + @coji/durably-react) into dist/ with esbuild.
//   node build.mjs            (run by build.sh, which scripts/setup calls)
import { build } from 'esbuild'

await build({
  entryPoints: { dashboard: 'src/main.jsx' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  jsx: 'automatic',
  minify: true,
  target: ['chrome120', 'firefox120', 'safari17'],
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none',
  logLevel: 'warning',
})
