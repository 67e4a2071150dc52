// hbs ships no types. This describes the little of it the demo uses: an isolated instance
// (`create()`), so two demo apps started in one process never share helpers or partials.
declare module "hbs" {
  type RenderCallback = (error: Error | null, html?: string) => void;

  interface HbsInstance {
    /** The Express view engine function: `app.engine("hbs", instance.__express)`. */
    __express(path: string, options: object, callback: RenderCallback): void;
    registerHelper(name: string, helper: (...args: never[]) => unknown): void;
    registerPartial(name: string, template: string): void;
  }

  interface Hbs extends HbsInstance {
    create(): HbsInstance;
  }

  const hbs: Hbs;
  export default hbs;
}
