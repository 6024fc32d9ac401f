import { MAX_ID_LENGTH, parseClientFrame } from '../../src/index.js';

describe('parseClientFrame', () => {
  it('should accept a JSON object with a string type, keeping every field', () => {
    const frame = '{"type":"chat.message","id":"c1","payload":{"text":"hi"},"data":[1]}';
    expect(parseClientFrame(frame, false)).toEqual({
      ok: true,
      message: { type: 'chat.message', id: 'c1', payload: { text: 'hi' }, data: [1] },
    });
  });

  it('should read ws raw data: a Buffer, an ArrayBuffer and Buffer fragments', () => {
    const text = '{"type":"t","id":"é"}';
    const bytes = Buffer.from(text);
    const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const fragments = [bytes.subarray(0, 9), bytes.subarray(9)];
    for (const frame of [bytes, arrayBuffer, fragments]) {
      expect(parseClientFrame(frame, false)).toEqual({
        ok: true,
        message: { type: 't', id: 'é' },
      });
    }
  });

  it('should refuse a binary frame even if it holds valid JSON', () => {
    expect(parseClientFrame(Buffer.from('{"type":"t"}'), true)).toEqual({
      ok: false,
      reason: expect.stringContaining('text') as unknown,
    });
  });

  it.each([
    ['not JSON', '{type: t}'],
    ['empty', ''],
    ['a number', '42'],
    ['a string', '"t"'],
    ['null', 'null'],
    ['an array', '[{"type":"t"}]'],
    ['no type', '{"data":1}'],
    ['an empty type', '{"type":""}'],
    ['a numeric type', '{"type":7}'],
    ['a null type', '{"type":null}'],
    ['a numeric id', '{"type":"t","id":1}'],
    ['an empty id', '{"type":"t","id":""}'],
    ['a null id', '{"type":"t","id":null}'],
    ['an object id', '{"type":"t","id":{}}'],
    ['a too long id', JSON.stringify({ type: 't', id: 'x'.repeat(MAX_ID_LENGTH + 1) })],
  ])('should refuse %s, echoing no id', (_, frame) => {
    const parsed = parseClientFrame(frame, false);
    expect(parsed.ok).toBe(false);
    expect(parsed).not.toHaveProperty('id');
  });

  it('should keep a valid id when only the type is wrong, so the reply can carry it', () => {
    expect(parseClientFrame('{"type":5,"id":"r9"}', false)).toMatchObject({ ok: false, id: 'r9' });
    expect(parseClientFrame('{"id":"r9"}', false)).toMatchObject({ ok: false, id: 'r9' });
  });

  it('should accept an id of exactly MAX_ID_LENGTH characters', () => {
    const id = 'x'.repeat(MAX_ID_LENGTH);
    expect(parseClientFrame(JSON.stringify({ type: 't', id }), false)).toMatchObject({
      ok: true,
      message: { id },
    });
  });

  it('should never echo the frame or the JSON.parse error in the reason', () => {
    const parsed = parseClientFrame('{"type": "t", oops SECRET', false);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason).not.toContain('SECRET');
    expect(parsed.reason).not.toMatch(/position|Unexpected|token/i);
  });
});
