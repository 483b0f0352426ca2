/** The console's entry point: esbuild bundles from here (apps/console/build.ts). */
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
