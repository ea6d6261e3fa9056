const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
};

export function escapeXml(value: string): string {
  return value.replace(/[&<>"'\r]/g, (c) => ENTITIES[c] ?? c);
}

export type XmlValue = string | number | boolean | Date | undefined | null;

/** Appends to one array and joins once: a 1,000-instance page is built without intermediate strings. */
export class XmlWriter {
  readonly #parts: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];

  open(name: string, xmlns?: string): this {
    this.#parts.push(xmlns === undefined ? `<${name}>` : `<${name} xmlns="${escapeXml(xmlns)}">`);
    return this;
  }

  close(name: string): this {
    this.#parts.push(`</${name}>`);
    return this;
  }

  /** Omits the element when the value is absent, as AWS does for unset members. */
  leaf(name: string, value: XmlValue): this {
    if (value === undefined || value === null) return this;
    const text = value instanceof Date ? value.toISOString() : String(value);
    this.#parts.push(`<${name}>${escapeXml(text)}</${name}>`);
    return this;
  }

  /** Markup the caller built itself from values that need no escaping. */
  raw(markup: string): this {
    this.#parts.push(markup);
    return this;
  }

  toString(): string {
    return this.#parts.join('');
  }
}
