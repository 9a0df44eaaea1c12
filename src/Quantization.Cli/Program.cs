using Quantization.Cli;

return QuantCommandLine.Run(args, Console.Out, Console.Error, Spectre.Console.AnsiConsole.Console);
