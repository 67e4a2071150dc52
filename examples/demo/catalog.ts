/** A product of the demo shop. Prices are in cents, so sums are exact. */
export interface Product {
  id: string;
  name: string;
  blurb: string;
  priceCents: number;
}

export const PRODUCTS: readonly Product[] = Object.freeze([
  { id: "tea", name: "Green tea", blurb: "Loose leaf, 100 g", priceCents: 650 },
  { id: "mug", name: "Stoneware mug", blurb: "Holds 350 ml", priceCents: 1200 },
  { id: "honey", name: "Wildflower honey", blurb: "Jar of 250 g", priceCents: 890 },
  { id: "biscuits", name: "Oat biscuits", blurb: "Box of 12", priceCents: 420 },
]);

const BY_ID = new Map(PRODUCTS.map((product) => [product.id, product]));

export function findProduct(id: unknown): Product | undefined {
  return typeof id === "string" ? BY_ID.get(id) : undefined;
}

/** The most of one product a cart holds: a session is not a place for unbounded data. */
export const MAX_QUANTITY = 20;

export interface CartLine {
  product: Product;
  quantity: number;
  totalCents: number;
}

/** The cart as a page shows it: known products only, in catalogue order. */
export function cartLines(cart: Readonly<Record<string, number>> | undefined): CartLine[] {
  if (cart === undefined) return [];
  const lines: CartLine[] = [];
  for (const product of PRODUCTS) {
    const quantity = cart[product.id];
    if (typeof quantity === "number" && quantity > 0) {
      lines.push({ product, quantity, totalCents: quantity * product.priceCents });
    }
  }
  return lines;
}

export function formatPrice(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}
