import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/** Where the README's links point: it is also the npm page, where relative links break. */
export const REPOSITORY_FILES = 'https://github.com/ws-outbox/ws-outbox/blob/main/';

const FENCED_BLOCK = /^[ \t]*(`{3,}|~{3,})[^\n]*\n[\s\S]*?^[ \t]*\1[ \t]*$/gm;

/** A Markdown text without its fenced code blocks, which may hold `](…)` that are not links. */
function prose(markdown: string): string {
  return markdown.replace(FENCED_BLOCK, '');
}

/** The code of a Markdown text: its fenced blocks and inline code spans. */
export function codeOf(markdown: string): string {
  const fenced = markdown.match(FENCED_BLOCK) ?? [];
  const inline = prose(markdown).match(/`[^`\n]+`/g) ?? [];
  return [...fenced, ...inline].join('\n');
}

/** The targets of the inline links of a Markdown text, outside code. */
export function linkTargets(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]);
}

/** The anchors GitHub gives the headings of a Markdown text. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*$/gm)) {
    anchors.add(
      heading
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return anchors;
}

/**
 * Why a link of the page `file` (relative to `root`) is broken, or undefined if it is not:
 * a missing file, or an anchor that is no heading of it. External links are not fetched; the
 * repository's own (`REPOSITORY_FILES…`) are checked as local paths.
 */
export function brokenLink(root: string, file: string, target: string): string | undefined {
  let path: string;
  if (target.startsWith(REPOSITORY_FILES)) path = target.slice(REPOSITORY_FILES.length);
  else if (!isRelative(target)) return undefined;
  else if (target.startsWith('#'))
    path = file + target; // an anchor of the page itself
  else path = posix.join(posix.dirname(file), target);
  const [pathPart, anchor] = path.split('#');
  const resolved = join(root, pathPart);
  if (!existsSync(resolved)) return `${file}: ${target}: no such file`;
  if (anchor && !headingAnchors(readFileSync(resolved, 'utf8')).has(anchor)) {
    return `${file}: ${target}: no heading #${anchor} in ${posix.normalize(pathPart || file)}`;
  }
  return undefined;
}

/** A link without a scheme: resolved against the page, so broken once the page moves (npm). */
export function isRelative(target: string): boolean {
  return !/^[a-z]+:/i.test(target);
}
