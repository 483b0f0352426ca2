/**
 * An esbuild plugin: string-width (under yargs' help layout) builds an Intl.Segmenter and a
 * \p{RGI_Emoji} regular expression when it is imported, some 30 ms of ICU work at every start
 * of every command, though only help text ever measures a string. Here they are built on first
 * use instead. The build fails if a new string-width no longer reads as expected, rather than
 * quietly keeping the cost.
 */
import { readFile } from 'node:fs/promises';

const EAGER = [
  {
    text: 'const segmenter = new Intl.Segmenter();',
    lazy: 'let segmenterOnce; const segmenter = { segment: (s) => (segmenterOnce ??= new Intl.Segmenter()).segment(s) };',
    required: true,
  },
  {
    text: 'const rgiEmojiRegex = /^\\p{RGI_Emoji}$/v;',
    lazy: 'let rgiEmojiOnce; const rgiEmojiRegex = { test: (s) => (rgiEmojiOnce ??= /^\\p{RGI_Emoji}$/v).test(s) };',
    required: false,
  },
];

export const lazyUnicodeTables = {
  name: 'lazy-unicode-tables',
  setup(b) {
    b.onLoad({ filter: /[/\\]node_modules[/\\]string-width[/\\]index\.js$/ }, async ({ path }) => {
      let text = await readFile(path, 'utf8');
      for (const { text: eager, lazy, required } of EAGER) {
        if (text.includes(eager)) text = text.replace(eager, lazy);
        else if (required) throw new Error(`lazy-unicode-tables: ${path} no longer has \`${eager}\`; look again at what it builds at import`);
      }
      if (/^const \w+ = (new Intl\.|\/.*\\p\{RGI_Emoji\})/m.test(text)) throw new Error(`lazy-unicode-tables: ${path} builds another table at import`);
      return { contents: text, loader: 'js' };
    });
  },
};
